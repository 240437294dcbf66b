/**
 * Requests sent to another node than the one running the execution (issue 19): two real server processes on one
 * PostgreSQL database (test/helpers/postgres.ts), each with its own data dir.
 * - Cancels: node B's API and CLI cancel executions node A runs — a plugin task mid-run, an execution parked in a
 *   durable wait — and answer them CANCELLED: B commits a cancel request (CANCEL_REQUESTED, naming B as the asker and
 *   A as the holder), A's slot watcher cancels (its plugin process killed). A terminal execution is left as it is.
 * - Decisions: B's API and CLI approve and reject approvals A holds; B commits a decision request
 *   (DECISION_REQUESTED), A takes the decision as its own (APPROVED / REJECTED by the caller) and B answers with the
 *   run as committed; a decision A refuses (inputs its schema rejects) comes back to B's caller with A's error.
 * Under CI=true a missing PostgreSQL fails this file.
 */
import { SQL } from 'bun'
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { testPostgres } from './helpers/postgres.ts'
import { apiCaller, cleanEnv, cli, freePort, KEY, oneJson, startServerProcess, tempDir, waitUntil, writeNodeConfig, type ServerProcess } from './server-helpers.ts'

const pg = await testPostgres()
const dir = tempDir('autokestra-pg-cancel-')

interface Audit { type: string; data?: Record<string, unknown> }

/** A POST whose refusal the test reads: its status and its error's code. */
async function refusal(origin: string, path: string, body: object): Promise<[number, string | undefined]> {
  const res = await fetch(`${origin}${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  })
  return [res.status, ((await res.json()) as { error?: { code: string } }).error?.code]
}

/** Node `name`'s config: its own data dir, the shared database, a short lease (the last test kills a node). */
const LEASE_S = 4
const nodeConfig = (name: string, port: number, url: string): string =>
  writeNodeConfig(join(dir, name), port, url, { lines: ['cluster:', `  leaseSeconds: ${LEASE_S}`, '  heartbeatSeconds: 1'] })

describe.skipIf(!pg)('a cancel or a decision sent to another node', () => {
  const servers: ServerProcess[] = []
  let listener: SQL | undefined
  const heard: string[] = []
  let apiA: ReturnType<typeof apiCaller>
  let apiB: ReturnType<typeof apiCaller>
  let configB = ''
  let env: Record<string, string> = {}
  let nodeA = ''
  let nodeB = ''

  beforeAll(async () => {
    const db = await pg!.createDatabase()
    // What the nodes tell each other (LISTEN/NOTIFY: runtime/store/postgresql/wakeups.ts), as a third listener hears it.
    listener = new SQL({ url: db.url, max: 1 })
    await listener.listen('autokestra_wake', (p) => heard.push(...p.split(' ')))
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
    await apiA('PUT', '/api/v1/workflows/gated', [
      'id: gated', 'tasks:', '  - id: gate', '    approval:', '      message: Ship?',
      '      schema: { type: object, required: [ticket], additionalProperties: false, properties: { ticket: { type: string, pattern: "^OPS-[0-9]+$" } } }',
      '  - id: ship', '    needs: [gate]', '    type: core/log.info', '    inputs: { message: "ship {{ tasks.gate.output.ticket }}" }', '',
    ].join('\n'))
  }, 120_000)
  afterAll(async () => {
    await listener?.close()
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
    // The request woke A (not only its poll), and the end woke B's wait: both went out on the channel.
    await waitUntil('the wake-ups on the channel', () => heard.includes(`a:${id}`) && heard.includes(`e:${id}`))
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

  it('B\'s API approves an approval A holds: A takes it, B answers with the execution, audited with both nodes', async () => {
    const id = await runningOnA('gated', 'WAITING')
    // Refused by A (its schema): the error comes back to B's caller, and the approval still waits.
    expect(await refusal(servers[1]!.url, `/api/v1/executions/${id}/tasks/gate/approve`, { inputs: { ticket: 'nope' } })).toEqual([400, 'INVALID_INPUT'])
    expect((await apiA('GET', `/api/v1/executions/${id}`)).tasks[0].state).toBe('WAITING')
    // Answered as a local approval is: the execution, its approval run SUCCESS with the inputs as output.
    const answer = await apiB('POST', `/api/v1/executions/${id}/tasks/gate/approve`, { inputs: { ticket: 'OPS-7' } })
    const gate = (answer.tasks as { taskId: string; state: string; output?: unknown }[]).find((t) => t.taskId === 'gate')
    expect([answer.id, gate?.state, gate?.output]).toEqual([id, 'SUCCESS', { ticket: 'OPS-7' }])
    await waitUntil('gated to end', async () => (await apiA('GET', `/api/v1/executions/${id}`)).state === 'SUCCESS')
    const audit = (await apiB('GET', `/api/v1/executions/${id}/audit`)).items as Audit[]
    const asked = audit.filter((e) => e.type === 'DECISION_REQUESTED')
    expect(asked.map((e) => e.data)).toEqual([
      expect.objectContaining({ from: nodeB, holder: nodeA, verdict: 'approve' }),
      expect.objectContaining({ from: nodeB, holder: nodeA, verdict: 'approve' }),
    ])
    // A decided it as its own: no takeover, and the approval follows the request.
    expect(audit.some((e) => e.type === 'CLAIMED')).toBe(false)
    expect(audit.findIndex((e) => e.type === 'APPROVED')).toBeGreaterThan(audit.indexOf(asked[1]!))
  }, 60_000)

  it('B\'s CLI rejects an approval A holds: the execution fails APPROVAL_REJECTED with the reason', async () => {
    const id = await runningOnA('gated', 'WAITING')
    const r = await cli(['execution', 'reject', id, 'gate', '--reason', 'not today', '-c', configB, '--json'], { env })
    expect(r.code).toBe(0)
    expect(oneJson(r).state).toBe('FAILED')
    await waitUntil('gated to fail', async () => (await apiA('GET', `/api/v1/executions/${id}`)).state === 'FAILED')
    const detail = await apiA('GET', `/api/v1/executions/${id}`)
    expect([detail.tasks[0].state, detail.tasks[0].error?.code, detail.tasks[0].error?.message]).toEqual(['FAILED', 'APPROVAL_REJECTED', expect.stringContaining('not today')])
  }, 60_000)

  it('a decision on an execution that has ended is refused at once, nothing requested', async () => {
    const done = await apiA('POST', '/api/v1/workflows/quick/executions?wait=30s', {})
    expect(done.state).toBe('SUCCESS')
    expect(await refusal(servers[1]!.url, `/api/v1/executions/${done.id}/tasks/hi/approve`, {})).toEqual([409, 'CONFLICT'])
    expect(((await apiB('GET', `/api/v1/executions/${done.id}/audit`)).items as Audit[]).some((e) => e.type === 'DECISION_REQUESTED')).toBe(false)
  }, 60_000)

  // Last: it kills A.
  it('a decision asked of a node that died is taken by the node that takes its execution over', async () => {
    const id = await runningOnA('gated', 'WAITING')
    servers[0]!.proc.kill('SIGKILL')
    await servers[0]!.proc.exited
    const asked = Date.now()
    const answer = await apiB('POST', `/api/v1/executions/${id}/tasks/gate/approve`, { inputs: { ticket: 'OPS-9' } })
    expect((answer.tasks as { taskId: string; state: string }[]).find((t) => t.taskId === 'gate')?.state).toBe('SUCCESS')
    expect(Date.now() - asked).toBeLessThan(10_000) // within the asker's wait: the lease (4 s) and a heartbeat (1 s)
    await waitUntil('gated to end on B', async () => (await apiB('GET', `/api/v1/executions/${id}`)).state === 'SUCCESS')
    const audit = (await apiB('GET', `/api/v1/executions/${id}/audit`)).items as Audit[]
    const types = audit.map((e) => e.type)
    expect(audit.find((e) => e.type === 'DECISION_REQUESTED')?.data).toMatchObject({ from: nodeB, holder: nodeA })
    expect(audit.find((e) => e.type === 'CLAIMED')?.data).toMatchObject({ from: nodeA, to: nodeB })
    expect(types.indexOf('APPROVED')).toBeGreaterThan(types.indexOf('CLAIMED'))
  }, 60_000)
})
