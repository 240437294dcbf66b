/**
 * Finishes the document @elysiajs/openapi generates from the routes (api/routes/openapi.ts) into one a client
 * generator can use: canonical paths (no trailing slash), the request bodies and responses a route declares by
 * hand in `detail` (the generator overwrites or misreads those), no `content` on a 204, `servers` and the tags.
 * Pure: the generated document and the routes in, the finished document out.
 */

type Json = Record<string, unknown>

/** What this module reads of a route (Elysia's `app.routes` entries). */
export interface RouteInfo {
  method: string
  path: string
  hooks?: { body?: unknown; detail?: { hide?: boolean; requestBody?: unknown; responses?: unknown } }
}

export interface FinishOptions {
  /** `servers[].url`: where the API is (the server's own address; `/` when unknown). */
  serverUrl: string
  tags: { name: string; description: string }[]
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

/** TypeBox marks `t.Optional(…)` with this symbol: a body the route may go without. */
const OPTIONAL = Symbol.for('TypeBox.Optional')
const isOptional = (schema: unknown): boolean => isObject(schema) && (schema as Record<symbol, unknown>)[OPTIONAL] === 'Optional'

/** Form types beside JSON are Elysia's guess for any object body: the API's bodies are JSON. */
const FORM_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data']
function jsonOnly(body: Json): Json {
  const content = body.content
  if (!isObject(content) || !('application/json' in content)) return body
  return { ...body, content: Object.fromEntries(Object.entries(content).filter(([type]) => !FORM_TYPES.includes(type))) }
}

/** `/api/v1/workflows/` → `/api/v1/workflows`; `/api/v1/workflows/:id` → `/api/v1/workflows/{id}`. */
export function canonicalPath(path: string): string {
  const p = path.replace(/:([^/]+)/g, '{$1}').replace(/\/+$/, '')
  return p === '' ? '/' : p
}

/** Elysia's `t.Integer` is `anyOf: [{ type: string, format: integer }, { type: integer }]` so it can coerce: on the wire it is an integer. */
function coercedInteger(v: Json): Json | undefined {
  const branches = v.anyOf
  if (!Array.isArray(branches) || branches.length !== 2) return undefined
  const [text, real] = branches as unknown[]
  if (!isObject(text) || !isObject(real) || text.type !== 'string' || text.format !== 'integer' || real.type !== 'integer') return undefined
  const { anyOf: _branches, ...outer } = v
  return { ...outer, ...real }
}

/** Drops the `error` message keyword of a schema (api/models/common.ts) and Elysia's coercion unions, recursively. */
function cleanSchema(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(cleanSchema)
  if (!isObject(v)) return v
  const obj = coercedInteger(v) ?? v
  const out: Json = {}
  for (const [k, x] of Object.entries(obj)) {
    if (k === 'error' && typeof x === 'string') continue
    out[k] = cleanSchema(x)
  }
  return out
}

const STATUS_TEXT: Record<string, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content' }

/**
 * A 204's generated `content: { type: 'void' }` is not a media type map: a 204 has no content. The generator's
 * placeholder description (`Response for status 200`) becomes the status text.
 */
function fixResponses(responses: Json): Json {
  const out: Json = {}
  for (const [status, raw] of Object.entries(responses)) {
    if (!isObject(raw)) continue
    const r = raw.description === `Response for status ${status}` && STATUS_TEXT[status] ? { ...raw, description: STATUS_TEXT[status] } : raw
    const content = r.content
    const voidContent = isObject(content) && typeof content.type === 'string' && !String(content.type).includes('/')
    if (status === '204' || voidContent) {
      const { content: _drop, ...rest } = r
      out[status] = rest
    } else out[status] = r
  }
  return out
}

/**
 * Moves every schema with a `title` (the models' names, api/models/*) into `components.schemas` and refers to it:
 * generators then name the types (`components['schemas']['ExecutionDetail']`). A `description` stays beside the
 * `$ref` (the same model means different things in different places); a second, different schema under a taken
 * title stays inline.
 */
function hoistNamed(v: unknown, schemas: Record<string, Json>): unknown {
  if (Array.isArray(v)) return v.map((x) => hoistNamed(x, schemas))
  if (!isObject(v)) return v
  const out: Json = {}
  for (const [k, x] of Object.entries(v)) out[k] = hoistNamed(x, schemas)
  const title = out.title
  if (typeof title !== 'string' || !/^[A-Za-z][A-Za-z0-9]*$/.test(title) || !('type' in out || 'anyOf' in out)) return out
  const { description, title: _title, ...schema } = out
  const taken = schemas[title]
  if (taken !== undefined && JSON.stringify(taken) !== JSON.stringify(schema)) return out
  schemas[title] = schema
  return { $ref: `#/components/schemas/${title}`, ...(typeof description === 'string' ? { description } : {}) }
}

/** The shared error answers (`Error404`…) into `components.responses`, referred to from each operation. */
function shareErrorResponses(paths: Json, shared: Record<string, Json>): void {
  for (const item of Object.values(paths)) {
    if (!isObject(item)) continue
    for (const op of Object.values(item)) {
      if (!isObject(op) || !isObject(op.responses)) continue
      for (const [status, r] of Object.entries(op.responses)) {
        if (!/^[45]\d\d$/.test(status) || !isObject(r)) continue
        const name = `Error${status}`
        const taken = shared[name]
        if (taken !== undefined && JSON.stringify(taken) !== JSON.stringify(r)) continue
        shared[name] = r
        op.responses[status] = { $ref: `#/components/responses/${name}` }
      }
    }
  }
}

export function finishDocument(generated: Json, routes: readonly RouteInfo[], opts: FinishOptions): Json {
  const paths: Record<string, Json> = {}
  for (const [path, item] of Object.entries(isObject(generated.paths) ? generated.paths : {})) {
    if (!isObject(item)) continue
    const canonical = canonicalPath(path)
    paths[canonical] = { ...paths[canonical], ...item }
  }
  // The route's own request body and responses, where it declares them (a parse hook that reads every type, a stream).
  for (const route of routes) {
    const detail = route.hooks?.detail ?? {}
    if (detail.hide) continue
    const op = paths[canonicalPath(route.path)]?.[route.method.toLowerCase()]
    if (!isObject(op)) continue
    if (detail.requestBody !== undefined) op.requestBody = detail.requestBody
    else if (isObject(op.requestBody)) op.requestBody = { ...jsonOnly(op.requestBody), ...(isOptional(route.hooks?.body) ? { required: false } : {}) }
    if (isObject(detail.responses) && !isObject(op.responses)) op.responses = detail.responses
  }
  for (const item of Object.values(paths)) {
    for (const op of Object.values(item)) if (isObject(op) && isObject(op.responses)) op.responses = fixResponses(op.responses)
  }
  const sorted = Object.fromEntries(Object.keys(paths).sort().map((p) => [p, paths[p]]))
  const named: Record<string, Json> = {}
  const finishedPaths = hoistNamed(cleanSchema(sorted), named)
  const responses: Record<string, Json> = {}
  if (isObject(finishedPaths)) shareErrorResponses(finishedPaths, responses)
  const components = isObject(generated.components) ? generated.components : {}
  const schemas = { ...(isObject(components.schemas) ? components.schemas : {}), ...named }
  return {
    ...generated,
    servers: [{ url: opts.serverUrl, description: 'This server' }],
    tags: opts.tags,
    paths: finishedPaths,
    components: {
      ...components,
      schemas: Object.fromEntries(Object.keys(schemas).sort().map((k) => [k, schemas[k]])),
      responses: Object.fromEntries(Object.keys(responses).sort().map((k) => [k, responses[k]])),
    },
  }
}
