/** `GET /schemas/<kind>.json` (no auth): the JSON Schemas editors use for workflows, plugin.yaml and the config (api/json-schemas.ts). */
import { Elysia, t } from 'elysia'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { jsonSchemaText, SCHEMA_KINDS, type SchemaKind } from '../json-schemas.ts'
import { publicErrors } from '../models/common.ts'
import { errorContent } from '../openapi/content.ts'

export const schemaRoutes = () => {
  // Built once, on first ask: they depend on nothing that changes while the server runs.
  const texts = new Map<SchemaKind, string>()
  return new Elysia({ name: 'routes.schemas' })
    .get('/schemas/:file', ({ params }) => {
      const kind = params.file.replace(/\.json$/, '') as SchemaKind
      if (!params.file.endsWith('.json') || !SCHEMA_KINDS.includes(kind)) {
        throw new AppError(ErrorCode.NotFound, `no schema ${params.file} (there are: ${SCHEMA_KINDS.map((k) => `${k}.json`).join(', ')})`)
      }
      let text = texts.get(kind)
      if (text === undefined) texts.set(kind, text = jsonSchemaText(kind))
      return new Response(text, { headers: { 'content-type': 'application/schema+json; charset=utf-8', 'cache-control': 'public, max-age=300' } })
    }, {
      params: t.Object({ file: t.String({ maxLength: 64 }) }),
      detail: {
        operationId: 'getSchema',
        security: [],
        summary: 'A JSON Schema for editors: workflow.json, plugin.json or config.json (no API key needed)',
        responses: {
          200: { description: 'A JSON Schema (draft-07)', content: { 'application/schema+json': { schema: { type: 'object' } } } },
          ...errorContent(publicErrors(400, 404)),
        },
        tags: ['schemas'],
      },
    })
}
