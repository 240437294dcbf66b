/**
 * `/openapi` (the reference page) and `/openapi/json` (the document), made by @elysiajs/openapi on the first request
 * for either: its generator is a large module that a server nobody asks for its API description need not hold
 * (issue 14: ~1.8 MB of the idle server). Same document, same page, as the plugin mounted at start-up gave.
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
  { name: 'secrets', description: 'Encrypted secrets (values only in set and single get)' },
  { name: 'webhooks', description: 'Webhook triggers and their keys' },
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
  let page: Promise<{ html: string; type: string }> | undefined
  let cached: { routes: number; doc: unknown } | undefined
  return new Elysia({ name: 'routes.openapi' })
    .get(PATH, async () => {
      // The plugin renders the page (its look and its CSP-relevant script URL); the page fetches `openapi/json`.
      page ??= import('@elysiajs/openapi').then(async ({ openapi }) => {
        const res = await new Elysia().use(openapi({ path: PATH, openapiVersion: OPENAPI_VERSION, documentation: DOCUMENTATION })).handle(new Request(`http://localhost${PATH}`))
        return { html: await res.text(), type: res.headers.get('content-type') ?? 'text/html; charset=utf8' }
      })
      const { html, type } = await page
      return new Response(html, { headers: { 'content-type': type } })
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
