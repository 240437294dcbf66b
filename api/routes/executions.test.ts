/** Execution routes in-process over a real store: list filters and total, detail, logs newest first, audit, SSE, cancel. */
import { describe, expect, it } from 'bun:test'
import { parseWorkflow } from '../../runtime/workflow/parse.ts'
import { HELLO, fixture, type Fixture } from '../../test/helpers/api-fixture.ts'

/** Seeds an execution straight into the store: created, one task run to SUCCESS, `lines` log lines. */
async function seed(f: Fixture, id: string, lines = 0, terminal = true): Promise<void> {
  const parsed = parseWorkflow(HELLO)
  if (!parsed.ok) throw new Error('fixture')
  const now = f.clock.now()
  await f.store.commit({ at: now, requests: [{ transitions: [{ kind: 'create', executionId: id, workflow: parsed.workflow, revision: 1, inputs: { name: 'Ada' }, trigger: { type: 'api' } }] }] })
  await f.store.commit({
    at: now,
    requests: [{ transitions: [{ kind: 'execution', executionId: id, to: 'RUNNING' }, { kind: 'task', executionId: id, taskId: 'a', to: 'RUNNING', attempt: 1 }] }],
    logs: Array.from({ length: lines }, (_, i) => ({
      executionId: id, taskId: 'a', attempt: 1, ts: now + i * 1000, level: i % 2 ? 'WARN' : 'INFO', source: 'plugin', message: `line ${i}`,
    })),
  })
  if (terminal) {
    await f.store.commit({ at: now + 1500, requests: [{ transitions: [{ kind: 'task', executionId: id, taskId: 'a', to: 'SUCCESS', output: { message: 'hello Ada' } },
      { kind: 'execution', executionId: id, to: 'SUCCESS' }] }] })
  }
}

describe('execution routes', () => {
  it('lists newest first with total and a state filter', async () => {
    const f = fixture()
    await seed(f, 'ex_a')
    f.clock.set(f.clock.now() + 10)
    await seed(f, 'ex_b', 0, false)
    const all = await f.req('GET', '/api/v1/executions')
    expect(all.body).toMatchObject({ total: 2, limit: 50, offset: 0 })
    expect(all.body.items.map((e: { id: string }) => e.id)).toEqual(['ex_b', 'ex_a'])
    expect((await f.req('GET', '/api/v1/executions?state=success,failed')).body.items.map((e: { id: string }) => e.id)).toEqual(['ex_a'])
    // Repeated, as generated clients send an array (the document's `state` is a value or a list of them).
    expect((await f.req('GET', '/api/v1/executions?state=SUCCESS&state=failed')).body.items.map((e: { id: string }) => e.id)).toEqual(['ex_a'])
    expect((await f.req('GET', '/api/v1/executions?state=RUNNING&state=BOGUS')).body.error.details.path).toBe('query.state')
    expect((await f.req('GET', '/api/v1/executions?workflowId=nope')).body.total).toBe(0)
    expect((await f.req('GET', '/api/v1/executions?state=BOGUS')).body.error.details.path).toBe('query.state')
  })

  it('filters by creation time: since (inclusive) and until (exclusive), ISO 8601 or a duration back from now; a bad time is 400 at its path', async () => {
    const f = fixture()
    const t0 = f.clock.now()
    await seed(f, 'ex_a')
    f.clock.set(t0 + 60_000)
    await seed(f, 'ex_b')
    f.clock.set(t0 + 120_000)
    await seed(f, 'ex_c')
    const ids = async (q: string) => {
      const r = await f.req('GET', `/api/v1/executions?${q}`)
      expect(r.status).toBe(200)
      return r.body.items.map((e: { id: string }) => e.id)
    }
    const iso = (ms: number) => new Date(ms).toISOString()
    expect(await ids(`since=${iso(t0 + 60_000)}`)).toEqual(['ex_c', 'ex_b'])
    expect(await ids(`until=${iso(t0 + 60_000)}`)).toEqual(['ex_a'])
    expect(await ids(`since=${iso(t0)}&until=${iso(t0 + 120_000)}`)).toEqual(['ex_b', 'ex_a'])
    expect((await f.req('GET', `/api/v1/executions?since=${iso(t0 + 1)}`)).body.total).toBe(2)
    // A duration is back from now (the clock is at t0 + 120 s); with an offset, the same instant.
    expect(await ids('since=30s')).toEqual(['ex_c'])
    expect(await ids('since=90s')).toEqual(['ex_c', 'ex_b'])
    expect(await ids(`until=${encodeURIComponent(new Date(t0 + 60_000).toISOString().replace('Z', '+00:00'))}&state=SUCCESS`)).toEqual(['ex_a'])
    expect(await ids(`since=${iso(t0).slice(0, 10)}&workflowId=hello`)).toEqual(['ex_c', 'ex_b', 'ex_a'])
    for (const [q, path] of [['since=yesterday', 'query.since'], ['until=2026-02-30', 'query.until'], ['since=2026-13-01T00:00:00Z', 'query.since'],
      ['until=2026-05-01T25:00:00Z', 'query.until'], [`since=${iso(t0 + 60_000)}&until=${iso(t0)}`, 'query.until']] as const) {
      const r = await f.req('GET', `/api/v1/executions?${q}`)
      expect({ q, status: r.status, code: r.body.error.code, details: r.body.error.details }).toEqual({ q, status: 400, code: 'INVALID_INPUT', details: { path } })
    }
  })

  it('shows every task run with attempts, output and timing', async () => {
    const f = fixture()
    await seed(f, 'ex_a')
    const d = (await f.req('GET', '/api/v1/executions/ex_a')).body
    expect(d).toMatchObject({ id: 'ex_a', state: 'SUCCESS', trigger: { type: 'api' }, inputs: { name: 'Ada' }, durationMs: 1500 })
    expect(d.tasks[0]).toMatchObject({ taskId: 'a', type: 'core/log.info', state: 'SUCCESS', attempts: 1, maxAttempts: 1,
      output: { message: 'hello Ada' }, durationMs: 1500, history: [{ attempt: 1, state: 'SUCCESS', durationMs: 1500 }] })
    expect((await f.req('GET', '/api/v1/executions/nope')).status).toBe(404)
  })

  it('pages logs newest first with level, task and since filters', async () => {
    const f = fixture()
    await seed(f, 'ex_a', 10)
    const p = (await f.req('GET', '/api/v1/executions/ex_a/logs?limit=3')).body
    expect(p.items.map((l: { message: string }) => l.message)).toEqual(['line 9', 'line 8', 'line 7'])
    expect(p).toMatchObject({ limit: 3, offset: 0, hasMore: true })
    const warn = (await f.req('GET', '/api/v1/executions/ex_a/logs?level=warn&offset=3')).body
    expect(warn.items.map((l: { message: string }) => l.message)).toEqual(['line 3', 'line 1'])
    expect(warn.hasMore).toBe(false)
    expect((await f.req('GET', '/api/v1/executions/ex_a/logs?level=INFO,WARN&taskId=a')).body.items).toHaveLength(10)
    expect((await f.req('GET', '/api/v1/executions/ex_a/logs?taskId=b')).body.items).toHaveLength(0)
    f.clock.set(f.clock.now() + 10_000)
    expect((await f.req('GET', '/api/v1/executions/ex_a/logs?since=3s')).body.items.map((l: { message: string }) => l.message)).toEqual(['line 9', 'line 8', 'line 7'])
    const iso = new Date(f.clock.now() - 2000).toISOString()
    expect((await f.req('GET', `/api/v1/executions/ex_a/logs?since=${iso}`)).body.items).toHaveLength(2)
    expect((await f.req('GET', '/api/v1/executions/ex_a/logs?since=yesterday')).body.error.details.path).toBe('query.since')
    expect((await f.req('GET', '/api/v1/executions/ex_a/logs?level=LOUD')).status).toBe(400)
    // The page older than a line held: by id, with the filters.
    const older = (await f.req('GET', `/api/v1/executions/ex_a/logs?limit=3&beforeId=${p.items[2].id}`)).body
    expect(older.items.map((l: { message: string }) => l.message)).toEqual(['line 6', 'line 5', 'line 4'])
    const bad = await f.req('GET', '/api/v1/executions/ex_a/logs?beforeId=0')
    expect([bad.status, bad.body.error.code, bad.body.error.details?.path]).toEqual([400, 'INVALID_INPUT', 'query.beforeId'])
  })

  it('returns the audit trail oldest first', async () => {
    const f = fixture()
    await seed(f, 'ex_a')
    const types = (await f.req('GET', '/api/v1/executions/ex_a/audit')).body.items.map((a: { type: string }) => a.type)
    expect(types.slice(0, 2)).toEqual(['CREATED', 'STARTED'])
    expect(types.at(-1)).toBe('COMPLETED')
  })

  it('streams logs and state as SSE, replaying after afterId, ending with `end` when terminal', async () => {
    const f = fixture()
    await seed(f, 'ex_a', 4)
    const res = await f.app.handle(new Request('http://localhost/api/v1/executions/ex_a/events?afterId=2', { headers: { authorization: 'Bearer test-key-1' } }))
    expect(res.headers.get('content-type')).toStartWith('text/event-stream')
    const text = await res.text()
    const events = text.split('\n\n').filter((b) => b.trim()).map((b) => /event: (\w+)/.exec(b)?.[1])
    expect(events).toEqual(['log', 'log', 'state', 'end'])
    expect(text).toContain('"message":"line 3"')
    expect(text).not.toContain('"message":"line 1"')
    expect((await f.req('GET', '/api/v1/executions/nope/events')).status).toBe(404)
  })

  it('cancel is 404 for an unknown execution and 409 without the runtime', async () => {
    const f = fixture()
    await seed(f, 'ex_a')
    expect((await f.req('POST', '/api/v1/executions/nope/cancel')).status).toBe(404)
    expect((await f.req('POST', '/api/v1/executions/ex_a/cancel', { reason: 'x' })).body.error.code).toBe('CONFLICT')
  })
})
