/** Workflow routes in-process: apply YAML (201/200), id mismatch, issues with positions, list/get/patch/delete, start. */
import { describe, expect, it } from 'bun:test'
import type { Engine } from '../../actors/engine-types.ts'
import type { ExecutionRecord } from '../../runtime/store/types.ts'
import { HELLO, fixture } from '../../test/helpers/api-fixture.ts'

describe('workflow routes', () => {
  it('creates with 201, then updates with 200 and bumps the revision only on change', async () => {
    const f = fixture()
    const a = await f.req('PUT', '/api/v1/workflows/hello', HELLO)
    expect(a.status).toBe(201)
    expect(a.body).toMatchObject({ created: true, workflow: { id: 'hello', revision: 1, source: HELLO } })
    expect((await f.req('PUT', '/api/v1/workflows/hello', HELLO, { type: 'application/yaml' })).body).toMatchObject({ created: false, changed: false })
    const c = await f.req('PUT', '/api/v1/workflows/hello', { source: HELLO.replace('world', 'there') })
    expect(c.status).toBe(200)
    expect(c.body.workflow.revision).toBe(2)
  })

  it('lists the revisions newest first, the current one marked, and answers each one\'s YAML; 404 and 400 as envelopes', async () => {
    const f = fixture()
    const v2 = HELLO.replace('world', 'there')
    await f.req('PUT', '/api/v1/workflows/hello', HELLO)
    await f.clock.advance(1000)
    await f.req('PUT', '/api/v1/workflows/hello', v2)
    await f.req('PUT', '/api/v1/workflows/hello', v2) // unchanged: no revision
    const list = await f.req('GET', '/api/v1/workflows/hello/revisions')
    expect(list.status).toBe(200)
    const t0 = f.clock.now() - 1000
    expect(list.body).toEqual({ items: [
      { revision: 2, createdAt: t0 + 1000, bytes: Buffer.byteLength(v2), current: true },
      { revision: 1, createdAt: t0, bytes: Buffer.byteLength(HELLO), current: false },
    ] })
    const one = await f.req('GET', '/api/v1/workflows/hello/revisions/1')
    expect([one.status, one.body]).toEqual([200, { revision: 1, createdAt: t0, bytes: Buffer.byteLength(HELLO), source: HELLO }])
    expect((await f.req('GET', '/api/v1/workflows/hello/revisions/2')).body.source).toBe(v2)
    const gone = await f.req('GET', '/api/v1/workflows/hello/revisions/3')
    expect([gone.status, gone.body.error.code, gone.body.error.details]).toEqual([404, 'NOT_FOUND', { id: 'hello', revision: 3 }])
    const none = await f.req('GET', '/api/v1/workflows/nope/revisions')
    expect([none.status, none.body.error.code]).toEqual([404, 'NOT_FOUND'])
    expect((await f.req('GET', '/api/v1/workflows/nope/revisions/1')).status).toBe(404)
    for (const bad of ['0', 'x', '1.5']) {
      const r = await f.req('GET', `/api/v1/workflows/hello/revisions/${bad}`)
      expect([r.status, r.body.error.code, r.body.error.details]).toEqual([400, 'INVALID_INPUT', { path: 'params.revision' }])
    }
    expect((await f.req('GET', '/api/v1/workflows/hello/revisions', undefined, { auth: false })).status).toBe(401)
  })

  it('rejects an id mismatch with INVALID_WORKFLOW at path id', async () => {
    const r = await (fixture()).req('PUT', '/api/v1/workflows/other', HELLO, { type: 'text/plain' })
    expect(r.status).toBe(400)
    expect(r.body.error).toMatchObject({ code: 'INVALID_WORKFLOW', details: { path: 'id' } })
  })

  it('returns every issue with line and column', async () => {
    const r = await fixture().req('PUT', '/api/v1/workflows/bad', 'id: bad\ntasks:\n  - id: a\n    type: nope\n    needs: [zz]\n')
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('INVALID_WORKFLOW')
    const issues = r.body.error.details.issues as { path: string; line: number; column: number }[]
    expect(issues.map((i) => i.path)).toEqual(expect.arrayContaining(['tasks[0].type', 'tasks[0].needs[0]']))
    expect(issues.every((i) => i.line > 0 && i.column > 0)).toBe(true)
  })

  it('refuses a task naming a runner the engine does not have, at its runner', async () => {
    const r = await fixture().req('PUT', '/api/v1/workflows/hello', HELLO.replace('type: core/log.info', 'type: core/log.info\n    runner: vm'))
    expect(r.status).toBe(400)
    expect(r.body.error).toMatchObject({ code: 'INVALID_WORKFLOW', details: { issues: [{ path: 'tasks[0].runner', code: 'INVALID_VALUE', message: 'unknown runner "vm" (this engine has: process, docker)' }] } })
  })

  it('answers malformed bodies with 400 INVALID_INPUT, never 500', async () => {
    const f = fixture()
    for (const [body, type] of [['{"source": ', 'application/json'], ['{"nope": 1}', 'application/json'], ['', 'application/json'], [': : :\n\t- [', 'text/yaml']]) {
      const r = await f.req('PUT', '/api/v1/workflows/x', body, { type })
      expect(r.status).toBe(400)
      expect(['INVALID_INPUT', 'INVALID_WORKFLOW']).toContain(r.body.error.code)
    }
  })

  it('lists with total, gets, disables, deletes', async () => {
    const f = fixture()
    await f.req('PUT', '/api/v1/workflows/hello', HELLO)
    await f.req('PUT', '/api/v1/workflows/other', HELLO.replace('id: hello', 'id: other'))
    const list = await f.req('GET', '/api/v1/workflows?limit=1&offset=1')
    expect(list.body).toMatchObject({ total: 2, limit: 1, offset: 1, items: [{ id: 'other' }] })
    expect((await f.req('PATCH', '/api/v1/workflows/hello', { enabled: false })).body.enabled).toBe(false)
    expect((await f.req('PATCH', '/api/v1/workflows/hello', { enabled: 'no' })).status).toBe(400)
    expect((await f.req('DELETE', '/api/v1/workflows/hello')).status).toBe(204)
    expect((await f.req('DELETE', '/api/v1/workflows/hello')).body.error.code).toBe('NOT_FOUND')
    expect((await f.req('GET', '/api/v1/workflows/hello')).status).toBe(404)
    expect((await f.req('GET', '/api/v1/workflows?limit=0')).body.error.details.path).toBe('query.limit')
  })

  it('starts an execution with 201 and the requested trigger; 409 when disabled or without runtime', async () => {
    const seen: unknown[] = []
    const record = (trigger: string): ExecutionRecord => ({
      id: 'ex_1', workflowId: 'hello', revision: 1, state: 'PENDING', trigger: { type: trigger as 'api' }, inputs: {}, createdAt: 1, updatedAt: 1,
    })
    const engine = { start: async (req: { trigger: { type: string } }) => { seen.push(req); return record(req.trigger.type) }, subscribe: () => () => {}, stats: () => ({}) } as unknown as Engine
    const f = fixture(engine)
    await f.req('PUT', '/api/v1/workflows/hello', HELLO)
    const r = await f.req('POST', '/api/v1/workflows/hello/executions', { inputs: { name: 'Ada' }, trigger: 'manual' })
    expect(r.status).toBe(201)
    expect(r.body).toMatchObject({ id: 'ex_1', state: 'PENDING', trigger: { type: 'manual' } })
    expect(seen[0]).toMatchObject({ workflowId: 'hello', inputs: { name: 'Ada' } })
    expect((await f.req('POST', '/api/v1/workflows/hello/executions', { trigger: 'cron' })).status).toBe(400)
    await f.req('PATCH', '/api/v1/workflows/hello', { enabled: false })
    expect((await f.req('POST', '/api/v1/workflows/hello/executions', {})).body.error.code).toBe('WORKFLOW_DISABLED')
    const readOnly = fixture()
    await readOnly.req('PUT', '/api/v1/workflows/hello', HELLO)
    const ro = await readOnly.req('POST', '/api/v1/workflows/hello/executions', {})
    expect(ro.status).toBe(409)
    expect(ro.body.error.message).toContain('AUTOKESTRA_DISABLE_RUNTIME')
  })
})
