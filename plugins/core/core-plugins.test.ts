import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { startTestEngine, workflow, type TestEngine } from '../../test/helpers/engine.ts'

let t: TestEngine
let server: ReturnType<typeof Bun.serve>
const seen: { method: string; body: string; auth: string | null }[] = []

beforeAll(async () => {
  t = await startTestEngine()
  server = Bun.serve({
    hostname: '127.0.0.1', port: 0,
    async fetch(req) {
      const url = new URL(req.url)
      seen.push({ method: req.method, body: await req.text(), auth: req.headers.get('authorization') })
      if (url.pathname === '/missing') return new Response('nope', { status: 404 })
      if (url.pathname === '/slow') return new Promise((r) => setTimeout(() => r(new Response('late')), 3000))
      return Response.json({ ok: true, path: url.pathname })
    },
  })
})
afterAll(async () => {
  server.stop(true)
  await t.close()
})

async function run(yaml: string) {
  const ex = await t.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
  const done = await t.engine.waitFor(ex.id)
  return { done, runs: Object.fromEntries((await t.engine.snapshot(ex.id))!.taskRuns.map((r) => [r.taskId, r])) }
}

describe('core/log', () => {
  it('logs at the action level and returns the message', async () => {
    const { done, runs } = await run(`
id: logs
tasks:
  - { id: i, type: core/log.info, inputs: { message: hello } }
  - { id: w, type: core/log.warn, inputs: { message: { structured: true } } }
  - { id: e, type: core/log.error, inputs: { message: bad } }
`)
    expect(done.state).toBe('SUCCESS')
    expect(runs.w!.output).toEqual({ message: '{"structured":true}' })
    const lines = (await t.engine.store.logs.list({ executionId: done.id })).items.filter((l) => l.source.startsWith('plugin:'))
    expect(lines.map((l) => `${l.taskId} ${l.level} ${l.message}`).sort()).toEqual(['e ERROR bad', 'i INFO hello', 'w WARN {"structured":true}'])
  })
})

describe('core/sleep', () => {
  it('waits for the duration', async () => {
    const { done, runs } = await run('id: nap\ntasks:\n  - { id: s, type: core/sleep.wait, inputs: { duration: 200ms } }\n')
    expect(done.state).toBe('SUCCESS')
    expect((runs.s!.output as { sleptMs: number }).sleptMs).toBeGreaterThanOrEqual(200)
  })

  it('stops at once when cancelled', async () => {
    const ex = await t.engine.start({ workflow: workflow('id: long-nap\ntasks:\n  - { id: s, type: core/sleep.wait, inputs: { duration: 1h } }\n'), trigger: { type: 'manual' } })
    await new Promise<void>((resolve) => {
      const off = t.engine.subscribe((e) => { if (e.type === 'task' && e.executionId === ex.id && e.state === 'RUNNING') (off(), resolve()) })
    })
    const started = Date.now()
    await t.engine.cancel(ex.id)
    expect((await t.engine.waitFor(ex.id)).state).toBe('CANCELLED')
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('rejects a malformed duration before starting', async () => {
    const { runs } = await run('id: bad-nap\ntasks:\n  - { id: s, type: core/sleep.wait, inputs: { duration: soon } }\n')
    expect(runs.s!.error).toMatchObject({ code: 'INVALID_TASK_INPUT' })
  })
})

describe('core/http', () => {
  const grant = () => `permissions: { network: ["127.0.0.1:${server.port}"] }`

  it('GETs JSON and POSTs a body, within a narrowed network grant', async () => {
    const { done, runs } = await run(`
id: http-ok
tasks:
  - id: get
    type: core/http.request
    ${grant()}
    inputs: { url: "http://127.0.0.1:${server.port}/items" }
  - id: post
    type: core/http.request
    needs: [get]
    ${grant()}
    inputs:
      method: POST
      url: "http://127.0.0.1:${server.port}/items"
      headers: { authorization: "Bearer abc" }
      body: { from: "{{ tasks.get.output.body.path }}" }
`)
    expect(done.state).toBe('SUCCESS')
    expect(runs.get!.output).toMatchObject({ status: 200, body: { ok: true, path: '/items' } })
    expect(seen.at(-1)).toEqual({ method: 'POST', body: '{"from":"/items"}', auth: 'Bearer abc' })
  })

  it('fails on a 4xx answer unless told otherwise', async () => {
    const { runs } = await run(`
id: http-404
tasks:
  - { id: strict, type: core/http.request, ${grant()}, inputs: { url: "http://127.0.0.1:${server.port}/missing" } }
  - { id: lenient, type: core/http.request, ${grant()}, inputs: { url: "http://127.0.0.1:${server.port}/missing", failOnStatus: false } }
`)
    expect(runs.strict!.error).toMatchObject({ code: 'PLUGIN_ERROR', details: { status: 404 } })
    expect(runs.lenient!.output).toMatchObject({ status: 404, body: 'nope' })
  })

  it('times out by its own timeout', async () => {
    const { runs } = await run(`id: http-slow\ntasks:\n  - { id: s, type: core/http.request, ${grant()}, inputs: { url: "http://127.0.0.1:${server.port}/slow", timeout: 300ms } }\n`)
    expect(runs.s!.state).toBe('FAILED')
    expect(runs.s!.error!.message).toContain('/slow')
  })

  it('cannot reach a port outside its grant', async () => {
    const other = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('secret') })
    try {
      const { runs } = await run(`id: http-denied\ntasks:\n  - { id: s, type: core/http.request, ${grant()}, inputs: { url: "http://127.0.0.1:${other.port}/" } }\n`)
      expect(runs.s!.error).toMatchObject({ code: 'PERMISSION_DENIED' })
    } finally {
      other.stop(true)
    }
  })
})
