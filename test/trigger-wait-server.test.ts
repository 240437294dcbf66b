/**
 * Trigger and wait in one request (issue 14 item 5), on the real server (child process on 127.0.0.1, real SQLite
 * file, real plugins) with the real CLI and the Eden client: `POST …/executions?wait=` answers 200 with the
 * terminal execution and its outputs, 202 when the wait expires, 400 for a bad wait; a client that hangs up
 * releases its waiter; the event stream's `end` carries the state and outputs; `workflow trigger --wait` is one request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { rmSync } from 'node:fs'
import { call, createClient } from '../api/client.ts'
import type { ExecutionDetail } from '../api/services/execution-dto.ts'
import { KEY, cleanEnv, cli, freePort, oneJson, startServerProcess, tempDir, waitUntil, writeConfig, type ServerProcess } from './server-helpers.ts'

const dir = tempDir('autokestra-wait-')
const port = freePort()
const config = writeConfig(dir, port)
const url = `http://127.0.0.1:${port}`
const env = cleanEnv({ WORKFLOW_SERVER_URL: url, WORKFLOW_API_KEY: KEY })
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }
const client = createClient(url, KEY)
let server: ServerProcess

const CHAIN = `id: chain
inputs:
  who: { type: string, default: Ada }
tasks:
  - { id: a, type: core/log.info, inputs: { message: "hello {{ inputs.who }}" } }
  - { id: b, type: core/log.info, needs: [a], inputs: { message: "{{ tasks.a.output.message }}!" } }
  - { id: c, type: core/log.info, needs: [b], inputs: { message: "{{ tasks.b.output.message }}!" } }
outputs:
  greeting: "{{ tasks.c.output.message }}"
  who: "{{ inputs.who }}"
`
const SLEEPER = 'id: sleeper\ntasks:\n  - { id: nap, type: core/sleep.wait, inputs: { duration: 60s } }\n'

const start = (workflow: string, query: string, init: RequestInit = {}) =>
  fetch(`${url}/api/v1/workflows/${workflow}/executions${query}`, { method: 'POST', headers, body: JSON.stringify({}), ...init })
const metric = async (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? NaN)
const total = async (workflowId: string) => (await call(client.api.v1.executions.get({ query: { workflowId } }), url)).total
/** Cancels every execution of `workflowId` still going (the sleepers), so the server stops quickly. */
async function cancelAll(workflowId: string): Promise<void> {
  const page = await call(client.api.v1.executions.get({ query: { workflowId, state: 'PENDING,RUNNING,WAITING' } }), url)
  await Promise.all(page.items.map((e) => call(client.api.v1.executions({ id: e.id }).cancel.post({}), url)))
}

beforeAll(async () => {
  server = await startServerProcess(['bun', 'cli/main.ts'], config, port)
  for (const [id, yaml] of [['chain', CHAIN], ['sleeper', SLEEPER]] as const) {
    const r = await fetch(`${url}/api/v1/workflows/${id}`, { method: 'PUT', headers: { ...headers, 'content-type': 'text/yaml' }, body: yaml })
    expect(r.status).toBe(201)
  }
})
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('POST /api/v1/workflows/:id/executions?wait=', () => {
  it('answers 200 with the terminal execution, its tasks and its outputs, in one request', async () => {
    const r = await start('chain', '?wait=50s', { body: JSON.stringify({ inputs: { who: 'Grace' } }) })
    expect(r.status).toBe(200)
    const ex = (await r.json()) as ExecutionDetail
    expect(ex).toMatchObject({ workflowId: 'chain', state: 'SUCCESS', outputs: { greeting: 'hello Grace!!', who: 'Grace' } })
    expect(ex.tasks.map((t) => `${t.taskId}:${t.state}`)).toEqual(['a:SUCCESS', 'b:SUCCESS', 'c:SUCCESS'])
    // The same answer as the detail read afterwards.
    expect(ex).toEqual(await call(client.api.v1.executions({ id: ex.id }).get(), url))
  }, 60_000)

  it('is typed in the Eden client (the query schema), 200 and the outputs', async () => {
    const r = await client.api.v1.workflows({ id: 'chain' }).executions.post({ inputs: { who: 'Eden' } }, { query: { wait: '50s' } })
    expect(r.status).toBe(200)
    expect(r.data).toMatchObject({ state: 'SUCCESS', outputs: { greeting: 'hello Eden!!' } })
  }, 60_000)

  it('answers 202 with the running execution when the wait expires; the execution goes on', async () => {
    const r = await start('sleeper', '?wait=1500ms')
    expect(r.status).toBe(202)
    const ex = (await r.json()) as ExecutionDetail
    expect(['PENDING', 'RUNNING']).toContain(ex.state)
    expect(ex.tasks).toHaveLength(1)
    const now = await call(client.api.v1.executions({ id: ex.id }).get(), url)
    expect(['PENDING', 'RUNNING']).toContain(now.state)
    await cancelAll('sleeper')
  }, 30_000)

  it('refuses a malformed wait with 400 INVALID_INPUT at query.wait, and starts nothing', async () => {
    const before = await total('chain')
    for (const bad of ['abc', '10', '', '-1s', '5 minutes', '1e400s']) {
      const r = await start('chain', `?wait=${encodeURIComponent(bad)}`)
      expect(r.status).toBe(400)
      const body = await r.json()
      expect(body).toEqual({ error: { code: 'INVALID_INPUT', message: expect.stringContaining('query.wait'), details: { path: 'query.wait', maxSeconds: 60 } } })
    }
    expect(await total('chain')).toBe(before)
  })

  it('releases the waiter of every client that hangs up: none is left listening', async () => {
    expect(await metric('autokestra_execution_waiters')).toBe(0)
    const clients = Array.from({ length: 20 }, () => new AbortController())
    const calls = clients.map((c) => start('sleeper', '?wait=55s', { signal: c.signal }).catch((e: Error) => e.name))
    await waitUntil('20 waiters', async () => (await metric('autokestra_execution_waiters')) === 20)
    for (const c of clients) c.abort()
    expect(new Set(await Promise.all(calls))).toEqual(new Set(['AbortError']))
    await waitUntil('every waiter released', async () => (await metric('autokestra_execution_waiters')) === 0)
    // The executions themselves go on: hanging up is not a cancel.
    expect(await total('sleeper')).toBeGreaterThanOrEqual(20)
    await cancelAll('sleeper')
  }, 60_000)
})

describe('the event stream\'s end event', () => {
  it('carries the final state and the outputs', async () => {
    const started = (await (await start('chain', '')).json()) as ExecutionDetail
    const r = await fetch(`${url}/api/v1/executions/${started.id}/events`, { headers })
    const text = await r.text() // the stream closes after `end`
    const end = /event: end\ndata: (.*)\n/.exec(text)
    expect(end).not.toBeNull()
    expect(JSON.parse(end![1]!)).toMatchObject({ id: started.id, state: 'SUCCESS', outputs: { greeting: 'hello Ada!!', who: 'Ada' } })
  }, 60_000)
})

describe('workflow trigger --wait (the real CLI)', () => {
  /** A loopback proxy in front of the server that counts the requests the CLI makes. */
  async function counted<T>(fn: (proxyUrl: string) => Promise<T>): Promise<{ result: T; requests: string[] }> {
    const requests: string[] = []
    const proxy = Bun.serve({
      hostname: '127.0.0.1', port: 0, idleTimeout: 120,
      fetch: async (req) => {
        const u = new URL(req.url)
        requests.push(`${req.method} ${u.pathname}${u.search}`)
        return fetch(`${url}${u.pathname}${u.search}`, { method: req.method, headers: req.headers, body: req.body })
      },
    })
    try {
      return { result: await fn(`http://127.0.0.1:${proxy.port}`), requests }
    } finally {
      proxy.stop(true)
    }
  }

  it('--wait --json: one request, exactly the execution detail with its outputs on stdout, exit 0', async () => {
    const { result, requests } = await counted((proxy) => cli(['trigger', 'chain', '--wait', '--json'], { env: { ...env, WORKFLOW_SERVER_URL: proxy } }))
    expect(result.code).toBe(0)
    const ex = oneJson(result)
    expect(ex).toMatchObject({ state: 'SUCCESS', trigger: { type: 'manual' }, outputs: { greeting: 'hello Ada!!' } })
    expect(requests).toEqual(['POST /api/v1/workflows/chain/executions?wait=1h'])
  }, 60_000)

  it('--wait=<duration> that expires: the running execution as JSON, exit 1; a bad duration exits 2', async () => {
    const r = await cli(['trigger', 'sleeper', '--wait=1s', '--json'], { env })
    expect(r.code).toBe(1)
    expect(['PENDING', 'RUNNING']).toContain(oneJson(r).state)
    await cancelAll('sleeper')
    const bad = await cli(['trigger', 'chain', '--wait=soon', '--json'], { env })
    expect(bad.code).toBe(2)
    expect(oneJson(bad)).toMatchObject({ error: { code: 'INVALID_INPUT', details: { path: 'query.wait' } } })
  }, 60_000)

  it('--wait with typed inputs: the workflow read once for their types, then the one start', async () => {
    const { result, requests } = await counted((proxy) => cli(['trigger', 'chain', '--input', 'who=Lin', '--wait', '--json'], { env: { ...env, WORKFLOW_SERVER_URL: proxy } }))
    expect(result.code).toBe(0)
    expect(oneJson(result).outputs).toEqual({ greeting: 'hello Lin!!', who: 'Lin' })
    expect(requests).toEqual(['GET /api/v1/workflows/chain', 'POST /api/v1/workflows/chain/executions?wait=1h'])
  }, 60_000)
})

