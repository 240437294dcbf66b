/**
 * Queued work claimed by an idle node (issue 19, docs/scale-out.md): two real server processes on one PostgreSQL
 * database (test/helpers/postgres.ts). Node A may run one execution at a time (`maxConcurrentWorkflows: 1`), node B
 * two; everything is triggered on A. What A has queued for long enough, B takes (CLAIMED_QUEUED, from A to B) and
 * runs: every execution ends, each task ran once, on one node. A cancel sent to A for an execution B took from A's
 * queue reaches B (the request goes to the holder) and ends it CANCELLED, and a trigger-and-wait on A answers with the
 * end of one B took and ran.
 * And `cluster.maxConcurrentWorkflows` caps what runs at once across both nodes (sampled in the store), each node
 * allowed more on its own.
 * Under CI=true a missing PostgreSQL fails this file.
 */
import { SQL } from 'bun'
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { testPostgres } from './helpers/postgres.ts'
import { apiCaller, cleanEnv, cli, freePort, startServerProcess, tempDir, waitUntil, writeNodeConfig, type ServerProcess } from './server-helpers.ts'

const pg = await testPostgres()
const dir = tempDir('autokestra-pg-claims-')
afterAll(async () => {
  await pg?.stop()
  rmSync(dir, { recursive: true, force: true })
})

interface Audit { type: string; taskId?: string; data?: Record<string, unknown> }

const nodeConfig = (name: string, port: number, url: string, slots: number): string => writeNodeConfig(join(dir, name), port, url, {
  lines: ['execution:', `  maxConcurrentWorkflows: ${slots}`, 'cluster:', '  leaseSeconds: 6', '  heartbeatSeconds: 2'],
})

describe.skipIf(!pg)('queued work claimed by an idle node', () => {
  const servers: ServerProcess[] = []
  let apiA: ReturnType<typeof apiCaller>
  let apiB: ReturnType<typeof apiCaller>
  let nodeA = ''
  let nodeB = ''
  let dbUrl = ''
  let env: Record<string, string> = {}

  beforeAll(async () => {
    const db = await pg!.createDatabase()
    dbUrl = db.url
    env = cleanEnv({ AUTOKESTRA_SECRET_KEY: randomBytes(32).toString('base64') })
    const [portA, portB] = [freePort(), freePort()]
    servers.push(await startServerProcess(['bun', 'cli/main.ts'], nodeConfig('a', portA, db.url, 1), portA, env))
    servers.push(await startServerProcess(['bun', 'cli/main.ts'], nodeConfig('b', portB, db.url, 2), portB, env))
    apiA = apiCaller(servers[0]!.url)
    apiB = apiCaller(servers[1]!.url)
    const self = async (api: typeof apiA) => ((await api('GET', '/api/v1/nodes')).items as { id: string; self: boolean }[]).find((n) => n.self)!.id
    ;[nodeA, nodeB] = [await self(apiA), await self(apiB)]
    await apiA('PUT', '/api/v1/workflows/short', 'id: short\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    inputs: { duration: 400ms }\n')
    await apiA('PUT', '/api/v1/workflows/long', 'id: long\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    inputs: { duration: 60s }\n')
    await apiA('PUT', '/api/v1/workflows/mid', 'id: mid\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    retry: { max: 1 }\n    inputs: { duration: 4s }\n')
    await apiA('PUT', '/api/v1/workflows/gated', 'id: gated\ntasks:\n  - id: gate\n    approval:\n      message: Ship?\n  - id: ship\n    needs: [gate]\n    type: core/log.info\n    inputs: { message: shipped }\n')
    await apiA('PUT', '/api/v1/workflows/parked', 'id: parked\ntasks:\n  - id: later\n    wait: { duration: 1h }\n')
  }, 120_000)
  afterAll(async () => {
    for (const s of servers.reverse()) if (s.proc.exitCode === null) await s.stop()
  }, 30_000)

  const audit = async (id: string) => (await apiA('GET', `/api/v1/executions/${id}/audit`)).items as Audit[]
  const claimedBy = async (id: string) => (await audit(id)).find((e) => e.type === 'CLAIMED_QUEUED')?.data?.to

  it('B takes what A queued and runs it: all end SUCCESS, each task once, on one node', async () => {
    const ids: string[] = []
    for (let i = 0; i < 8; i++) ids.push((await apiA('POST', '/api/v1/workflows/short/executions', {})).id as string)
    await waitUntil('all 8 to end', async () => {
      for (const id of ids) if ((await apiA('GET', `/api/v1/executions/${id}`)).state !== 'SUCCESS') return false
      return true
    }, 60_000)
    const trails = await Promise.all(ids.map(audit))
    const moved = trails.map((t) => t.filter((e) => e.type === 'CLAIMED_QUEUED'))
    // With one slot A would run them one after another; B took some from its queue (each once, from A).
    const taken = moved.filter((m) => m.length > 0)
    expect(taken.length).toBeGreaterThan(0)
    for (const m of taken) expect(m.map((e) => e.data)).toEqual([{ from: nodeA, to: nodeB }])
    for (const t of trails) {
      // Started once, its task attempted once, and no takeover: nothing ran on two nodes.
      expect(t.filter((e) => e.type === 'STARTED' && !e.taskId)).toHaveLength(1)
      expect(t.filter((e) => e.type === 'STARTED' && e.taskId === 'nap')).toHaveLength(1)
      expect(t.some((e) => e.type === 'CLAIMED' || e.type === 'RECOVERED')).toBe(false)
      // A move happens only before the start.
      const claim = t.findIndex((e) => e.type === 'CLAIMED_QUEUED')
      if (claim >= 0) expect(claim).toBeLessThan(t.findIndex((e) => e.type === 'STARTED'))
    }
    const detail = await apiB('GET', `/api/v1/executions/${ids[ids.length - 1]!}`)
    expect(detail.tasks[0].state).toBe('SUCCESS')
  }, 90_000)

  it('a cancel sent to A for one B took from A\'s queue reaches B and ends it CANCELLED', async () => {
    const first = (await apiA('POST', '/api/v1/workflows/long/executions', {})).id as string
    await waitUntil('the first to run on A', async () => (await apiA('GET', `/api/v1/executions/${first}`)).tasks[0].state === 'RUNNING')
    // A is full: the second waits in A's queue until B takes it.
    const second = (await apiA('POST', '/api/v1/workflows/long/executions', {})).id as string
    await waitUntil('B to take the second', async () => (await claimedBy(second)) === nodeB)
    await waitUntil('the second to run on B', async () => (await apiA('GET', `/api/v1/executions/${second}`)).tasks[0].state === 'RUNNING')
    const answer = await apiA('POST', `/api/v1/executions/${second}/cancel`, { reason: 'stop it from A' })
    expect(answer.state).toBe('CANCELLED')
    const trail = await audit(second)
    expect(trail.find((e) => e.type === 'CANCEL_REQUESTED')?.data).toMatchObject({ from: nodeA, holder: nodeB })
    expect((await apiB('GET', `/api/v1/executions/${second}`)).tasks[0].state).toBe('CANCELLED')
    // The first is still A's, and still running: the cancel went to the one asked for.
    expect((await apiA('GET', `/api/v1/executions/${first}`)).state).toBe('RUNNING')
    expect((await apiB('POST', `/api/v1/executions/${first}/cancel`, {})).state).toBe('CANCELLED')
  }, 60_000)

  it('a trigger-and-wait on A answers with the end of what B took from A\'s queue and ran', async () => {
    const first = (await apiA('POST', '/api/v1/workflows/long/executions', {})).id as string
    await waitUntil('the first to run on A', async () => (await apiA('GET', `/api/v1/executions/${first}`)).tasks[0].state === 'RUNNING')
    const waited = await apiA('POST', '/api/v1/workflows/short/executions?wait=30s', {})
    expect(waited.state).toBe('SUCCESS')
    expect(await claimedBy(waited.id as string)).toBe(nodeB)
    expect((await apiB('POST', `/api/v1/executions/${first}/cancel`, {})).state).toBe('CANCELLED')
  }, 60_000)

  /** A's one slot taken by a 60 s task, so what is triggered on A next waits in A's queue. */
  const fillA = async () => {
    const id = (await apiA('POST', '/api/v1/workflows/long/executions', {})).id as string
    await waitUntil('A\'s slot to be taken', async () => (await apiA('GET', `/api/v1/executions/${id}`)).tasks[0].state === 'RUNNING')
    return id
  }

  it('what B took and parked is B\'s: an approval on either node is taken, a cancel sent to A reaches it', async () => {
    const first = await fillA()
    const [gated, parked] = [(await apiA('POST', '/api/v1/workflows/gated/executions', {})).id as string, (await apiA('POST', '/api/v1/workflows/parked/executions', {})).id as string]
    await waitUntil('B to take both', async () => (await claimedBy(gated)) === nodeB && (await claimedBy(parked)) === nodeB)
    await waitUntil('both to park on B', async () => (await apiA('GET', `/api/v1/executions/${gated}`)).state === 'WAITING'
      && (await apiA('GET', `/api/v1/executions/${parked}`)).state === 'WAITING')
    // B holds them (it tracks what it took): an approval sent to B is B's own decision, one sent to A is asked of B.
    expect((await apiB('POST', `/api/v1/executions/${gated}/tasks/gate/approve`, {})).state).toBeDefined()
    await waitUntil('the approved one to end', async () => (await apiA('GET', `/api/v1/executions/${gated}`)).state === 'SUCCESS')
    expect((await audit(gated)).some((e) => e.type === 'DECISION_REQUESTED')).toBe(false)
    const cancelled = await apiA('POST', `/api/v1/executions/${parked}/cancel`, { reason: 'from A' })
    expect(cancelled.state).toBe('CANCELLED')
    expect((await audit(parked)).find((e) => e.type === 'CANCEL_REQUESTED')?.data).toMatchObject({ from: nodeA, holder: nodeB })
    expect((await apiB('POST', `/api/v1/executions/${first}/cancel`, {})).state).toBe('CANCELLED')
  }, 60_000)

  it('a `workflow run` on the same database takes none of the servers\' queued work', async () => {
    const first = await fillA()
    const queued = [(await apiA('POST', '/api/v1/workflows/mid/executions', {})).id as string]
    const file = join(dir, 'local.yaml')
    writeFileSync(file, 'id: local\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    inputs: { duration: 1s }\n')
    const run = await cli(['--config', writeNodeConfig(join(dir, 'cli'), freePort(), dbUrl), 'run', file, '--no-logs'], { env })
    expect(run.code).toBe(0)
    await waitUntil('the queued one to end', async () => (await apiA('GET', `/api/v1/executions/${queued[0]!}`)).state === 'SUCCESS', 30_000)
    // Run by a server (B took it, or A once free), never by the embedded engine that came and went.
    expect([nodeA, nodeB]).toContain(String((await audit(queued[0]!)).find((e) => e.type === 'CLAIMED_QUEUED')?.data?.to ?? nodeA))
    expect((await audit(queued[0]!)).some((e) => e.type === 'CLAIMED' || e.type === 'RECOVERED')).toBe(false)
    expect((await apiB('POST', `/api/v1/executions/${first}/cancel`, {})).state).toBe('CANCELLED')
  }, 60_000)

  it('B killed while running what it took from A: A takes it over after B\'s lease and runs it to SUCCESS', async () => {
    const first = await fillA()
    const x = (await apiA('POST', '/api/v1/workflows/mid/executions', {})).id as string
    await waitUntil('B to take it', async () => (await claimedBy(x)) === nodeB)
    await waitUntil('its task to run on B', async () => (await apiA('GET', `/api/v1/executions/${x}`)).tasks[0].state === 'RUNNING')
    servers[1]!.proc.kill('SIGKILL')
    await servers[1]!.proc.exited
    // A's slot is still full: it must not wait for it. A's heartbeat takes it over (lease 6 s) and gives the attempt back.
    await waitUntil('A to take it over', async () => (await audit(x)).some((e) => e.type === 'CLAIMED' && e.data?.from === nodeB && e.data?.to === nodeA), 20_000)
    expect((await audit(x)).some((e) => e.type === 'RECOVERED')).toBe(true)
    expect((await apiA('POST', `/api/v1/executions/${first}/cancel`, {})).state).toBe('CANCELLED')
    await waitUntil('it to end on A', async () => (await apiA('GET', `/api/v1/executions/${x}`)).state === 'SUCCESS', 30_000)
  }, 90_000)
})

describe.skipIf(!pg)('a cap on the executions running across nodes (cluster.maxConcurrentWorkflows)', () => {
  const CAP = 3
  const servers: ServerProcess[] = []
  let sql: SQL | undefined
  let apis: ReturnType<typeof apiCaller>[] = []

  beforeAll(async () => {
    const db = await pg!.createDatabase()
    sql = new SQL({ url: db.url, max: 1 })
    const env = cleanEnv({ AUTOKESTRA_SECRET_KEY: randomBytes(32).toString('base64') })
    for (const name of ['cap-a', 'cap-b']) {
      const port = freePort()
      // Each node alone would run 4; together they may run CAP.
      const config = writeNodeConfig(join(dir, name), port, db.url, { lines: ['execution:', '  maxConcurrentWorkflows: 4', 'cluster:', `  maxConcurrentWorkflows: ${CAP}`] })
      servers.push(await startServerProcess(['bun', 'cli/main.ts'], config, port, env))
    }
    apis = servers.map((s) => apiCaller(s.url))
    await apis[0]!('PUT', '/api/v1/workflows/nap', 'id: nap\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    inputs: { duration: 300ms }\n')
  }, 120_000)
  afterAll(async () => {
    await sql?.close()
    for (const s of servers.reverse()) await s.stop()
  })

  it('never more than the cap RUNNING at once across the nodes, and every execution runs', async () => {
    let peak = 0
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        const [row] = await sql!`SELECT COUNT(*)::int AS n FROM executions WHERE state = 'RUNNING'` as { n: number }[]
        peak = Math.max(peak, row!.n)
        await Bun.sleep(20)
      }
    })()
    const ids: string[] = []
    for (let i = 0; i < 12; i++) ids.push((await apis[i % 2]!('POST', '/api/v1/workflows/nap/executions', {})).id as string)
    await waitUntil('all 12 to end', async () => {
      const [row] = await sql!`SELECT COUNT(*)::int AS n FROM executions WHERE state = 'SUCCESS'` as { n: number }[]
      return row!.n === 12
    }, 60_000)
    sampling = false
    await sampler
    expect(peak).toBe(CAP) // reached (the 8 the nodes allow alone would be seen without it), never above
    // A refused start is not a failure, nor an audit event: each execution started once.
    for (const id of ids) {
      const trail = (await apis[0]!('GET', `/api/v1/executions/${id}/audit`)).items as Audit[]
      expect(trail.filter((e) => e.type === 'STARTED' && !e.taskId)).toHaveLength(1)
    }
  }, 90_000)
})
