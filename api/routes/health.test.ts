/** Health, metrics, OpenAPI and the API-key guard in-process. */
import { describe, expect, it } from 'bun:test'
import { parseWorkflow } from '../../runtime/workflow/parse.ts'
import { createExecutions } from '../../test/helpers/store.ts'
import { STORE_COUNTS_TTL_MS } from '../services/metrics.ts'
import { HELLO, KEY, fixture } from '../../test/helpers/api-fixture.ts'

describe('api key guard', () => {
  it('401s every /api/v1 path without a key, with a wrong key, and with an empty bearer', async () => {
    const f = fixture()
    for (const path of ['/api/v1/workflows', '/api/v1/executions', '/api/v1/secrets', '/api/v1/unknown']) {
      const r = await f.req('GET', path, undefined, { auth: false })
      expect(r.status).toBe(401)
      expect(r.body.error.code).toBe('UNAUTHORIZED')
      expect((await f.req('GET', path, undefined, { auth: false, headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    }
    expect((await f.req('GET', '/api/v1/workflows', undefined, { auth: false, headers: { authorization: 'Bearer ' } })).status).toBe(401)
  })

  it('accepts X-API-Key and any configured key; Authorization wins over X-API-Key', async () => {
    const f = fixture()
    expect((await f.req('GET', '/api/v1/workflows', undefined, { auth: false, headers: { 'x-api-key': KEY } })).status).toBe(200)
    expect((await f.req('GET', '/api/v1/workflows', undefined, { auth: false, headers: { 'x-api-key': 'second-key' } })).status).toBe(200)
    const both = await f.req('GET', '/api/v1/workflows', undefined, { auth: false, headers: { authorization: 'Bearer wrong', 'x-api-key': KEY } })
    expect(both.status).toBe(401)
  })
})

describe('public endpoints', () => {
  it('serves /health without a key', async () => {
    const r = await fixture().req('GET', '/health', undefined, { auth: false })
    expect(r.body).toEqual({ status: 'ok', version: expect.any(String), runtime: 'disabled', time: expect.any(Number), storage: { backend: 'sqlite' } })
  })

  it('serves Prometheus text on /metrics', async () => {
    const r = await fixture().req('GET', '/metrics', undefined, { auth: false })
    expect(r.headers.get('content-type')).toContain('text/plain')
    expect(r.body).toContain('autokestra_executions{state="SUCCESS"} 0')
    expect(r.body).toContain('# TYPE autokestra_queue_depth gauge')
  })

  it('counts executions at most once per 5 s, so polling the keyless /metrics cannot stall the engine', async () => {
    const f = fixture()
    const pending = async () => /autokestra_executions\{state="PENDING"\} (\d+)/.exec((await f.req('GET', '/metrics', undefined, { auth: false })).body)![1]
    expect(await pending()).toBe('0')
    const parsed = parseWorkflow(HELLO)
    if (!parsed.ok) throw new Error('fixture')
    await createExecutions(f.store, [{ id: 'ex_m', workflow: parsed.workflow, trigger: { type: 'api' } }], f.clock.now())
    expect(await pending()).toBe('0') // the counts of 0 s ago are reused
    await f.clock.advance(STORE_COUNTS_TTL_MS)
    expect(await pending()).toBe('1')
  })

  it('serves the OpenAPI document listing the routes', async () => {
    const r = await fixture().req('GET', '/openapi/json', undefined, { auth: false })
    expect(Object.keys(r.body.paths)).toEqual(expect.arrayContaining(['/api/v1/workflows/{id}', '/api/v1/executions/{id}/logs', '/api/v1/secrets/{name}']))
  })

  it('answers unknown routes with the error shape', async () => {
    const r = await fixture().req('GET', '/nope', undefined, { auth: false })
    expect(r.status).toBe(404)
    expect(r.body.error.code).toBe('NOT_FOUND')
  })
})

describe('a store that cannot be written', () => {
  it('answers writes 503 STORAGE_UNAVAILABLE with Retry-After (never 500), reports degraded on /health, and ok once writes work again', async () => {
    const f = fixture()
    // SQLite refuses every write (SQLITE_READONLY), as on a filesystem remounted read-only.
    f.store.db.exec('PRAGMA query_only = 1')
    const writes = [
      await f.req('PUT', '/api/v1/workflows/hello', HELLO), // the store's own transaction
      await f.req('PUT', '/api/v1/secrets/TOKEN', { value: 's3cret' }), // a direct statement in the secret store
    ]
    for (const w of writes) {
      expect(w.status).toBe(503)
      expect(w.headers.get('retry-after')).toBe('5')
      expect(w.body.error).toMatchObject({ code: 'STORAGE_UNAVAILABLE', details: { sqlite: 'SQLITE_READONLY' } })
      expect(w.body.error.message).toContain('attempt to write a readonly database')
    }
    const reads = await f.req('GET', '/api/v1/workflows')
    expect(reads.status).toBe(200)
    const degraded = await f.req('GET', '/health', undefined, { auth: false })
    expect(degraded.status).toBe(200) // alive: restarting would not help
    expect(degraded.body).toMatchObject({ status: 'degraded', storage: { backend: 'sqlite', code: 'SQLITE_READONLY' } })
    expect(degraded.body.reason).toContain('readonly')
    expect(degraded.body.storage.failedCommits).toBeGreaterThanOrEqual(2)
    f.store.db.exec('PRAGMA query_only = 0')
    f.clock.advance(1000) // the write probe runs at most once a second
    expect((await f.req('GET', '/health', undefined, { auth: false })).body).toMatchObject({ status: 'ok' })
    expect((await f.req('PUT', '/api/v1/workflows/hello', HELLO)).status).toBe(201)
  })
})
