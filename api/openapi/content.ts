/**
 * Raw OpenAPI response objects from the error schemas a route declares, for the routes whose success answer is not
 * JSON (an event stream, a download, metrics): they declare `detail.responses` by hand, and Elysia's generator keeps
 * it only when the route has no `response` schemas. No import of @elysiajs/openapi here (it loads on first use).
 */
import type { TSchema } from 'elysia'

interface ResponseObject {
  description: string
  headers?: Record<string, { schema: unknown }>
  content: Record<string, { schema: unknown }>
}

/** A TypeBox schema as plain JSON Schema (TypeBox's symbol keys dropped). */
const plain = (schema: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(schema)) as Record<string, unknown>

/** `errors(400, 404)` (api/models/common.ts) as OpenAPI response objects with the JSON error envelope. */
export function errorContent(schemas: Record<number, TSchema>): Record<string, ResponseObject> {
  const out: Record<string, ResponseObject> = {}
  for (const [status, schema] of Object.entries(schemas)) {
    const { headers, description, ...rest } = plain(schema)
    const response: ResponseObject = {
      description: typeof description === 'string' ? description : `HTTP ${status}`,
      content: { 'application/json': { schema: { ...rest, ...(typeof description === 'string' ? { description } : {}) } } },
    }
    if (headers && typeof headers === 'object') {
      response.headers = Object.fromEntries(Object.entries(headers).map(([name, s]) => [name, { schema: s }]))
    }
    out[status] = response
  }
  return out
}
