/** The OpenAPI document and page are made on first request (api/routes/openapi.ts), not at start-up. */
import { describe, expect, it } from 'bun:test'
import { join } from 'node:path'
import pkg from '../../package.json' with { type: 'json' }

describe('OpenAPI routes', () => {
  // In a process of its own: this test file's process may have loaded the plugin for another test.
  it('loads the generator only when the document or its page is first asked for', async () => {
    const p = Bun.spawn(['bun', join(import.meta.dir, '../../test/fixtures/openapi-lazy.ts')], { stdout: 'pipe', stderr: 'pipe' })
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
    expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' })
    const r = JSON.parse(out.trim().split('\n').pop()!)
    expect(r).toMatchObject({ before: false, after: true, status: 200, pageStatus: 200, info: { title: 'autokestra API', version: pkg.version } })
    expect(r.paths).toBeGreaterThan(10)
  }, 30_000)
})

describe('the OpenAPI document, as generators need it', async () => {
  const { fixture } = await import('../../test/helpers/api-fixture.ts')
  const f = fixture()
  type Op = { operationId?: string; tags?: string[]; security?: unknown[]; responses?: Record<string, unknown>; parameters?: { name: string; schema: Record<string, unknown> }[] }
  const doc = (await f.req('GET', '/openapi/json', undefined, { auth: false })).body as { paths: Record<string, Record<string, Op>>; servers: unknown[]; security: unknown[] }
  const ops = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })))
  const PUBLIC = ['get /health', 'get /metrics', 'post /api/v1/webhooks/{workflowId}/{key}']

  it('has canonical paths, servers, and a unique operation id and a tag on every operation', () => {
    expect(ops.length).toBeGreaterThan(20)
    expect(ops.filter((o) => o.path !== '/' && o.path.endsWith('/')).map((o) => o.path)).toEqual([])
    expect(doc.servers.length).toBeGreaterThan(0)
    const ids = ops.map((o) => o.op.operationId)
    expect(ids.every((id) => typeof id === 'string')).toBe(true)
    expect(new Set(ids).size).toBe(ids.length)
    expect(ops.filter((o) => !o.op.tags?.length).map((o) => o.op.operationId)).toEqual([])
  })

  it('declares a success and the error answers of every operation; 401 exactly where a key is needed', () => {
    for (const { path, method, op } of ops) {
      const statuses = Object.keys(op.responses ?? {})
      const where = `${method} ${path}`
      expect({ where, success: statuses.some((s) => s.startsWith('2')) }).toEqual({ where, success: true })
      expect({ where, always: ['405', '500'].every((s) => statuses.includes(s)) }).toEqual({ where, always: true })
      const isPublic = PUBLIC.includes(where)
      expect({ where, security: op.security }).toEqual({ where, security: isPublic ? [] : undefined })
      expect({ where, has401: statuses.includes('401') }).toEqual({ where, has401: !isPublic })
    }
    expect(doc.security).toEqual([{ bearer: [] }, { apiKey: [] }])
  })

  it('bounds limit and offset, and gives states and levels as enums', () => {
    const logs = doc.paths['/api/v1/executions/{id}/logs']!.get!
    const param = (name: string) => logs.parameters!.find((p) => p.name === name)!.schema
    expect(param('limit')).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000 })
    expect(param('offset')).toMatchObject({ type: 'integer', minimum: 0 })
    const text = JSON.stringify(doc)
    expect(text).toContain('"enum":["PENDING","RUNNING","WAITING","SUCCESS","FAILED","CANCELLED"]')
    expect(text).toContain('"enum":["PENDING","RUNNING","WAITING","SUCCESS","FAILED","CANCELLED","SKIPPED"]')
    expect(text).toContain('"enum":["DEBUG","INFO","WARN","ERROR"]')
  })
})

describe('methods and paths', async () => {
  const { fixture } = await import('../../test/helpers/api-fixture.ts')
  const f = fixture()

  it('answers a wrong method on a known path 405 with Allow, an unknown path 404', async () => {
    const post = await f.req('POST', '/health', undefined, { auth: false })
    expect({ status: post.status, allow: post.headers.get('allow'), code: post.body.error.code }).toEqual({ status: 405, allow: 'GET, HEAD', code: 'METHOD_NOT_ALLOWED' })
    const del = await f.req('DELETE', '/api/v1/secrets')
    expect({ status: del.status, allow: del.headers.get('allow') }).toEqual({ status: 405, allow: 'GET, HEAD' })
    const patch = await f.req('PATCH', '/api/v1/executions/ex_1/cancel')
    expect({ status: patch.status, allow: patch.headers.get('allow') }).toEqual({ status: 405, allow: 'POST' })
    const put = await f.req('POST', '/api/v1/workflows/hello')
    expect(put.headers.get('allow')).toBe('DELETE, GET, HEAD, PATCH, PUT')
    expect((await f.req('GET', '/nope', undefined, { auth: false })).status).toBe(404)
  })

  it('asks for the key before it tells which methods a path takes (401 with WWW-Authenticate)', async () => {
    const r = await f.req('DELETE', '/api/v1/secrets', undefined, { auth: false })
    expect({ status: r.status, challenge: r.headers.get('www-authenticate') }).toEqual({ status: 401, challenge: 'Bearer realm="autokestra"' })
  })

  it('answers the canonical path and the one with a trailing slash alike', async () => {
    expect((await f.req('GET', '/api/v1/workflows')).status).toBe(200)
    expect((await f.req('GET', '/api/v1/workflows/')).status).toBe(200)
    expect((await f.req('GET', '/api/v1/secrets')).status).toBe(200)
  })
})
