/**
 * Security headers on every response over real HTTP (issue 10, build item 6): data, errors, 404s, 401s (with
 * `WWW-Authenticate: Bearer`), a 500, /health, /metrics, /openapi (its own CSP) and an SSE stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../api/app.ts'
import { API_CSP, OPENAPI_PAGE_CSP } from '../api/security-headers.ts'
import { defaultConfig } from '../runtime/config/index.ts'
import { SecretStore } from '../runtime/secrets/index.ts'
import { openSqliteStore, type SqliteStore } from '../runtime/store/sqlite/store.ts'
import { parseWorkflow } from '../runtime/workflow/parse.ts'
import { rawRequest } from './helpers/raw-http.ts'
import { createExecutions } from './helpers/store.ts'

const KEY = 'headers-api-key-0123456789'
const auth = { authorization: `Bearer ${KEY}` }
const YAML = 'id: hello\ntriggers:\n  - type: webhook\ntasks:\n  - id: a\n    type: core/log.info\n    inputs: { message: hi }\n'
let dir: string
let store: SqliteStore
let app: ReturnType<typeof createApp>
let url: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ak-headers-'))
  store = openSqliteStore(join(dir, 'state.db'))
  const config = defaultConfig(dir)
  config.server.apiKeys = [KEY]
  app = createApp({ engine: undefined, store, secrets: new SecretStore(store.secrets, new Uint8Array(32).fill(3)), config, logInternalError: () => {} })
  app.listen({ hostname: '127.0.0.1', port: 0 })
  url = `http://127.0.0.1:${app.server!.port}`
  // One terminal execution, so its event stream sends `end` and closes.
  const parsed = parseWorkflow(YAML)
  if (!parsed.ok) throw new Error('fixture')
  await createExecutions(store, [{ id: 'ex_h', workflow: parsed.workflow, trigger: { type: 'api' } }])
  await store.commit({ at: 2, requests: [{ transitions: [{ kind: 'execution', executionId: 'ex_h', to: 'CANCELLED' }] }] })
})
afterAll(async () => {
  await app.stop(true)
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

function expectSecurityHeaders(h: Headers, csp = API_CSP): void {
  expect({
    nosniff: h.get('x-content-type-options'), referrer: h.get('referrer-policy'), frame: h.get('x-frame-options'),
    csp: h.get('content-security-policy'), cache: h.get('cache-control'), opener: h.get('cross-origin-opener-policy'),
  }).toEqual({ nosniff: 'nosniff', referrer: 'no-referrer', frame: 'DENY', csp, cache: 'no-store', opener: 'same-origin' })
}

describe('security headers', () => {
  it('are on every kind of response, errors included', async () => {
    const calls: [string, RequestInit | undefined, number][] = [
      ['/health', undefined, 200],
      ['/metrics', undefined, 200],
      ['/openapi/json', undefined, 200],
      ['/nope', undefined, 404],
      ['/api/v1/workflows', { headers: auth }, 200],
      ['/api/v1/workflows/hello', { method: 'PUT', headers: { ...auth, 'content-type': 'text/yaml' }, body: YAML }, 201],
      ['/api/v1/workflows/missing', { headers: auth }, 404],
      ['/api/v1/workflows?limit=abc', { headers: auth }, 400],
      ['/api/v1/secrets/A', { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: '{oops' }, 400],
      ['/api/v1/secrets/A', { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: '{"value":"abc"}' }, 204],
      ['/api/v1/webhooks/hello/wrong-key', { method: 'POST', body: '{}' }, 404],
      ['/api/v1/executions/ex_h', { headers: auth }, 200],
    ]
    for (const [path, init, status] of calls) {
      const res = await fetch(url + path, init)
      await res.arrayBuffer()
      expect([path, res.status]).toEqual([path, status])
      expectSecurityHeaders(res.headers)
    }
  })

  it('a 401 says `WWW-Authenticate: Bearer`, with error="invalid_token" for a wrong key', async () => {
    const missing = await fetch(`${url}/api/v1/workflows`)
    expect(missing.status).toBe(401)
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="autokestra"')
    expectSecurityHeaders(missing.headers)
    const wrong = await fetch(`${url}/api/v1/secrets`, { headers: { 'x-api-key': 'wrong' } })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer realm="autokestra", error="invalid_token"')
  })

  it('the OpenAPI page gets its own CSP, and still renders the viewer', async () => {
    const res = await fetch(`${url}/openapi`)
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('api-reference')
    expectSecurityHeaders(res.headers, OPENAPI_PAGE_CSP)
  })

  it('an event stream carries them too', async () => {
    const res = await fetch(`${url}/api/v1/executions/ex_h/events`, { headers: auth })
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    expect(await res.text()).toContain('event: end')
    expectSecurityHeaders(res.headers)
  })

  it('a malformed Host gets them on its 400', async () => {
    const r = await rawRequest(app.server!.port!, 'GET /health HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n')
    expect(r.status).toBe(400)
    expect(r.headers['x-content-type-options']).toBe('nosniff')
    expect(r.headers['content-security-policy']).toBe(API_CSP)
    expect(r.headers['cache-control']).toBe('no-store')
  })

  it('a 500 (the store closed under a read) carries them, with the envelope and no detail', async () => {
    // /health reports a store it cannot read as degraded (200); a listing has nothing to fall back on.
    store.db.close()
    const res = await fetch(`${url}/api/v1/workflows`, { headers: auth })
    expect(res.status).toBe(500)
    expect(await res.json()).toEqual({ error: { code: 'INTERNAL', message: 'internal error (see the server log)' } })
    expectSecurityHeaders(res.headers)
    store = openSqliteStore(join(dir, 'state.db')) // so afterAll can close it
  })
})
