/**
 * A cancel sent to another node than the one running the execution (issue 19): two real server processes on one
 * PostgreSQL database (test/helpers/postgres.ts), each with its own data dir. Node B's API and CLI cancel executions
 * node A runs — a plugin task mid-run, an execution parked in a durable wait — and answer them CANCELLED: B commits a
 * cancel request (CANCEL_REQUESTED, naming B as the asker and A as the holder), A's slot watcher cancels (its plugin
 * process killed). A terminal execution is left as it is. Under CI=true a missing PostgreSQL fails this file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { testPostgres } from './helpers/postgres.ts'
import { apiCaller, cleanEnv, cli, freePort, oneJson, startServerProcess, tempDir, waitUntil, writeNodeConfig, type ServerProcess } from './server-helpers.ts'

const pg = await testPostgres()
const dir = tempDir('autokestra-pg-cancel-')

interface Audit { type: string; data?: Record<string, unknown> }

/** Node `name`'s config: its own data dir, the shared database. */
const nodeConfig = (name: string, port: number, url: string): string => writeNodeConfig(join(dir, name), port, url)

describe.skipIf(!pg)('a cancel sent to another node', () => {
  const servers: ServerProcess[] = []
  let apiA: ReturnType<typeof apiCaller>
  let apiB: ReturnType<typeof apiCaller>
  let configB = ''
  let env: Record<string, string> = {}
  let nodeA = ''
  let nodeB = ''

  beforeAll(async () => {
    const db = await pg!.createDatabase()
    env = cleanEnv({ AUTOKESTRA_SECRET_KEY: randomBytes(32).toString('base64') })
    const [portA, portB] = [freePort(), freePort()]
    const a = await startServerProcess(['bun', 'cli/main.ts'], nodeConfig('a', portA, db.url), portA, env)
    servers.push(a)
    configB = nodeConfig('b', portB, db.url)
    const b = await startServerProcess(['bun', 'cli/main.ts'], configB, portB, env)
    servers.push(b)
    apiA = apiCaller(a.url)
    apiB = apiCaller(b.url)
    const self = async (api: typeof apiA) => ((await api('GET', '/api/v1/nodes')).items as { id: string; self: boolean }[]).find((n) => n.self)!.id
    ;[nodeA, nodeB] = [await self(apiA), await self(apiB)]
    await apiA('PUT', '/api/v1/workflows/nap', 'id: nap\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    inputs: { duration: 60s }\n')
    await apiA('PUT', '/api/v1/workflows/parked', 'id: parked\ntasks:\n  - id: later\n    wait: { duration: 1h }\n')
    await apiA('PUT', '/api/v1/workflows/quick', 'id: quick\ntasks:\n  - id: hi\n    type: core/log.info\n    inputs: { message: hi }\n')
  }, 120_000)
  afterAll(async () => {
    for (const s of servers.reverse()) await s.stop()
    await pg?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  /** An execution started on A (so A holds it), once its first task is in `taskState`. */
  const runningOnA = async (workflow: string, taskState: string) => {
    const id = (await apiA('POST', `/api/v1/workflows/${workflow}/executions`, {})).id as string
    await waitUntil(`${workflow} to reach ${taskState} on A`, async () => (await apiA('GET', `/api/v1/executions/${id}`)).tasks[0].state === taskState)
    return id
  }

  it('B\'s API cancels a plugin task A runs: answered CANCELLED, the request audited with both nodes', async () => {
    const id = await runningOnA('nap', 'RUNNING')
    const answer = await apiB('POST', `/api/v1/executions/${id}/cancel`, { reason: 'stop it from B' })
    expect(answer.state).toBe('CANCELLED')
    const detail = await apiA('GET', `/api/v1/executions/${id}`)
    expect([detail.state, detail.tasks[0].state]).toEqual(['CANCELLED', 'CANCELLED'])
    const audit = (await apiB('GET', `/api/v1/executions/${id}/audit`)).items as Audit[]
    const asked = audit.find((e) => e.type === 'CANCEL_REQUESTED')
    expect(asked?.data).toMatchObject({ from: nodeB, holder: nodeA, error: { code: 'CANCELLED', message: 'stop it from B' } })
    // A cancelled it as its own (no takeover): never CLAIMED, and the cancel came after the request.
    expect(audit.some((e) => e.type === 'CLAIMED')).toBe(false)
    expect(audit.findIndex((e) => e.type === 'CANCELLED')).toBeGreaterThan(audit.indexOf(asked!))
  }, 60_000)

  it('B\'s CLI cancels an execution parked on A in a durable wait', async () => {
    const id = await runningOnA('parked', 'WAITING')
    const r = await cli(['execution', 'cancel', id, '-c', configB, '--json'], { env })
    expect(r.code).toBe(0)
    expect(oneJson(r).state).toBe('CANCELLED')
    expect((await apiA('GET', `/api/v1/executions/${id}`)).state).toBe('CANCELLED')
  }, 60_000)

  it('a terminal execution is answered as it is, nothing requested', async () => {
    const done = await apiA('POST', '/api/v1/workflows/quick/executions?wait=30s', {})
    expect(done.state).toBe('SUCCESS')
    expect((await apiB('POST', `/api/v1/executions/${done.id}/cancel`, {})).state).toBe('SUCCESS')
    expect(((await apiB('GET', `/api/v1/executions/${done.id}/audit`)).items as Audit[]).some((e) => e.type === 'CANCEL_REQUESTED')).toBe(false)
  }, 60_000)
})
