/**
 * `/openapi` (the reference page) and `/openapi/json` (the document). The document is made by @elysiajs/openapi on
 * the first request for it: its generator is a large module that a server nobody asks for its API description need
 * not hold (issue 14: ~1.8 MB of the idle server). The page is the web UI's own viewer (ui/src/openapi.tsx, bundled
 * with the UI, loaded on first request): nothing from a CDN, so it works offline.
 */
import type { ElysiaOpenAPIConfig } from '@elysiajs/openapi'
import { Elysia, type AnyElysia } from 'elysia'
import pkg from '../../package.json' with { type: 'json' }
import { finishDocument } from '../openapi/document.ts'

const PATH = '/openapi'
// The plugin's default; pinned so the document does not change with the plugin's default.
const OPENAPI_VERSION = '3.1.2'

const INFO = {
  title: 'autokestra API',
  version: pkg.version,
  description: 'Workflows, executions, logs and secrets. See docs/api.md. Errors are `{ "error": { code, message, details? } }` with a stable code.',
}

/** The operations' tags, in the order a reference page lists them. */
const TAGS = [
  { name: 'workflows', description: 'Apply (YAML), list, enable or disable, delete; start an execution' },
  { name: 'executions', description: 'Executions: detail, logs, audit, events, cancel, approvals, restart, replay' },
  { name: 'files', description: 'Files the tasks stored, and purging old executions' },
  { name: 'plugins', description: 'The plugins the server found: actions, schemas, permissions' },
  { name: 'secrets', description: 'Encrypted secrets (values only in set and single get)' },
  { name: 'webhooks', description: 'Webhook triggers and their keys' },
  { name: 'nodes', description: 'The engines sharing the store (the node registry): live or expired' },
  { name: 'health', description: 'Liveness and metrics (no API key)' },
]

/** What the document says about the API beyond its routes. */
export const DOCUMENTATION: NonNullable<ElysiaOpenAPIConfig['documentation']> = {
  info: INFO,
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer' },
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
    },
  },
  security: [{ bearer: [] }, { apiKey: [] }],
}

/** The two routes, describing the app `root()` returns (the root app, once built). */
export function openapiRoutes(root: () => AnyElysia) {
  let cached: { routes: number; doc: unknown } | undefined
  return new Elysia({ name: 'routes.openapi' })
    .get(PATH, async () => {
      // Our own viewer (ui/src/openapi.tsx), served from this origin like the web UI: the page works offline.
      const file = (await import('../../ui/build.ts').then(({ uiAssets }) => uiAssets())).files.get('openapi.html')
      if (!file) throw new Error('the web UI build has no openapi.html')
      return new Response(file.body, { headers: { 'content-type': file.type } })
    }, { detail: { hide: true } })
    .get(`${PATH}/json`, async () => {
      const app = root()
      if (cached?.routes === app.routes.length) return cached.doc
      const { toOpenAPISchema } = await import('@elysiajs/openapi')
      const { paths, components } = toOpenAPISchema(app, undefined, undefined, undefined, OPENAPI_VERSION)
      // As the plugin composes it, our documentation around the generated paths and schemas; then finished for generators.
      const doc = finishDocument({
        ...DOCUMENTATION,
        openapi: OPENAPI_VERSION,
        info: INFO,
        paths: { ...paths },
        components: { ...DOCUMENTATION.components, schemas: { ...components.schemas } },
      }, app.routes, { serverUrl: '/', tags: TAGS })
      cached = { routes: app.routes.length, doc }
      return doc
    }, { detail: { hide: true } })
}
