/**
 * Several engine nodes on one PostgreSQL (issue 19, docs/scale-out.md): three real server processes on one
 * database of a private cluster of Debian's PostgreSQL (test/helpers/postgres.ts; paused and resumed for the outage
 * test), work triggered across all three through their HTTP APIs.
 * - `kill -9` of a node mid-run: every execution ends SUCCESS, the dead node's are taken over within one lease period
 *   plus one heartbeat, no task that reached SUCCESS ran again (its side effects, counted), every takeover is a
 *   CLAIMED audit event from the dead node after its death.
 * - A workflow's `concurrency` limit across the three and a `kill -9`: sampled every 50 ms, never exceeded; every
 *   execution admitted (it stalled, about one run in two, while the store ranked waiting ones by commit time and the
 *   engines asked only for their oldest by id).
 * - PostgreSQL stopped for a few seconds under load: nothing lost or run twice, and every node goes on without a restart.
 * - A per-second cron on three nodes fires once per tick.
 * Under CI=true a missing PostgreSQL fails this file.
 */

import { SQL } from 'bun'
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createDatabaseOn, postgresBinDir, startPrivateCluster, type PrivateCluster } from './helpers/postgres.ts'
import { KEY, apiCaller, cleanEnv, freePort, health, root, startServerProcess, tempDir, waitUntil, type ServerProcess } from './server-helpers.ts'

const LEASE_S = 6
const HEARTBEAT_S = 2
const EFFECTS = '/tmp/autokestra-test-effects'
/** execution.maxConcurrentWorkflows of each node: a dead node leaves queued work as well as running work. */
const PER_NODE = 8
/** The workflow concurrency limit the limit test holds across the nodes (more than one node's PER_NODE). */
const LIMIT = 12

const bin = postgresBinDir()
if (!bin && process.env.CI === 'true') throw new Error('PostgreSQL is not installed (apt-get install postgresql)')
let pg: PrivateCluster | undefined
const dir = tempDir('autokestra-cluster-')
const nodes: ServerProcess[] = []

beforeAll(async () => {
  if (bin) pg = await startPrivateCluster(bin)
  mkdirSync(EFFECTS, { recursive: true })
  chmodSync(EFFECTS, 0o1777) // the confined plugins write there (this file may be the first to make it)
})
afterAll(async () => {
  for (const n of nodes) if (n.proc.exitCode === null) n.proc.kill('SIGKILL')
  await Promise.all(nodes.map((n) => n.proc.exited))
  await pg?.stop()
  rmSync(dir, { recursive: true, force: true })
})

interface Node { server: ServerProcess; api: ReturnType<typeof apiCaller> }

/** A node: its own config and data dir, the shared database, short leases. */
async function startNode(url: string, name: string): Promise<Node> {
  const home = join(dir, name)
  mkdirSync(home, { recursive: true })
  const port = freePort()
  const config = join(home, 'config.yaml')
  writeFileSync(config, [
    'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 2',
    'storage:', '  type: postgresql', `  url: ${url}`, '  path: ./data/autokestra.db',
    'cluster:', `  leaseSeconds: ${LEASE_S}`, `  heartbeatSeconds: ${HEARTBEAT_S}`,
    'execution:', `  maxConcurrentWorkflows: ${PER_NODE}`, '  maxConcurrentTasks: 40',
    'logging:', '  requests: false',
    'sandbox:', '  policy:', '    filesystem:', `      write: [${EFFECTS}]`,
    'plugins:', `  paths: [${join(root, 'plugins')}, ${join(root, 'test/fixtures/plugins/engine')}]`, '',
  ].join('\n'))
  const server = await startServerProcess(['bun', 'cli/main.ts'], config, port, cleanEnv())
  nodes.push(server)
  return { server, api: apiCaller(server.url) }
}

/** The side-effect lines of `key`: one per attempt of test/probe.effect that reached its end. */
function effects(key: string): { executionTask: string; attempt: number }[] {
  const file = join(EFFECTS, key)
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
    const [task = '', attempt = '0'] = l.split(':')
    return { executionTask: task, attempt: Number(attempt) }
  })
}

/** A chain of `n` test/probe.effect tasks whose side effects go to one file per execution (`<key>-<execution id>`). */
function chain(id: string, key: string, n: number, extra: string[] = []): string {
  return [`id: ${id}`, 'isolation: execution', ...extra, 'tasks:',
    ...Array.from({ length: n }, (_, i) =>
      `  - { id: t${i}, type: test/probe.effect${i ? `, needs: [t${i - 1}]` : ''}, retry: { max: 2, backoff: { type: fixed, delay: 10ms } }, inputs: { key: "${key}-{{ execution.id }}", sleepMs: 20 } }`),
    ''].join('\n')
}

/** Checks that no task whose SUCCESS was committed ran again: a task with two side effects was recovered between them. */
async function expectNoSuccessRanTwice(sql: SQL, key: string, ids: string[], tasks: number): Promise<{ recovered: number }> {
  let recovered = 0
  for (const id of ids) {
    const lines = effects(`${key}-${id}`)
    const runs = await sql`SELECT task_id, state, attempt FROM task_runs WHERE execution_id = ${id}` as { task_id: string; state: string; attempt: number }[]
    expect(runs).toHaveLength(tasks)
    const audit = await sql`SELECT type, task_id FROM audit_events WHERE execution_id = ${id}` as { type: string; task_id: string | null }[]
    for (const r of runs) {
      expect(r.state).toBe('SUCCESS')
      const mine = lines.filter((l) => l.executionTask === r.task_id)
      expect(mine.length).toBeGreaterThanOrEqual(1)
      // Its last side effect is its SUCCESS attempt's: nothing ran it after the success was committed.
      expect(mine.at(-1)!.attempt).toBe(r.attempt)
      if (mine.length > 1) {
        // Run again only because an attempt was interrupted (the node died between its effect and its commit).
        expect(audit.some((a) => a.task_id === r.task_id && a.type === 'RECOVERED')).toBe(true)
        recovered++
      }
    }
  }
  return { recovered }
}

describe.skipIf(!bin)('several nodes on one PostgreSQL', () => {
  it('kill -9 of one node of three mid-run: all 200 executions succeed, taken over in time, nothing run twice or on two nodes', async () => {
    const db = await createDatabaseOn(pg!.adminUrl)
    const three = await Promise.all(['a', 'b', 'c'].map((n) => startNode(db.url, `kill-${n}`)))
    const [a, b, c] = three as [Node, Node, Node]
    const key = `cluster-kill-${process.pid}-${Date.now()}`
    await a.api('PUT', '/api/v1/workflows/ten', chain('ten', key, 10))
    const sql = new SQL({ url: db.url, max: 2 })
    try {

      const created = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
        const ex = await three[i % 3]!.api('POST', '/api/v1/workflows/ten/executions', {}) as { id: string }
        return { id: ex.id, node: i % 3 }
      }))
      const ids = created.map((x) => x.id)
      expect(new Set(ids).size).toBe(200)
      // Each node owns what was triggered on it: node a's owner id, from one of its executions.
      const [{ owner: dead } = { owner: '' }] = await sql`SELECT owner FROM executions WHERE id = ${created.find((x) => x.node === 0)!.id}` as { owner: string }[]
      expect(new Set((await sql`SELECT DISTINCT owner FROM executions` as { owner: string }[]).map((r) => r.owner)).size).toBe(3)

      // Once node a is in the middle of its share, it dies.
      await waitUntil('node a to be running executions with tasks done', async () => {
        const [row] = await sql`SELECT COUNT(*)::int AS n FROM executions x WHERE x.owner = ${dead} AND x.state = 'RUNNING' AND EXISTS
          (SELECT 1 FROM task_runs t WHERE t.execution_id = x.id AND t.state = 'SUCCESS')` as { n: number }[]
        return row!.n >= 3
      }, 60_000)
      const held = (await sql`SELECT id FROM executions WHERE owner = ${dead} AND state NOT IN ('SUCCESS', 'FAILED', 'CANCELLED')` as { id: string }[]).map((r) => r.id)
      expect(held.length).toBeGreaterThan(0)
      const killedAt = Date.now()
      a.server.proc.kill('SIGKILL')
      await a.server.proc.exited
      // What it held when it died (it writes nothing more; a survivor may already have taken queued ones: below).
      const heldAtKill = (await sql`SELECT id FROM executions WHERE owner = ${dead} AND state NOT IN ('SUCCESS', 'FAILED', 'CANCELLED')` as { id: string }[]).map((r) => r.id)

      // Taken over: nothing unfinished is the dead node's any more, within one lease period plus one heartbeat
      // (and the poll's own step).
      await waitUntil('the dead node\'s executions to be taken over', async () => {
        const [row] = await sql`SELECT COUNT(*)::int AS n FROM executions WHERE owner = ${dead} AND state NOT IN ('SUCCESS', 'FAILED', 'CANCELLED')` as { n: number }[]
        return row!.n === 0
      }, 60_000)
      const takeoverMs = Date.now() - killedAt
      console.log(`takeover of ${held.length} executions: ${takeoverMs} ms after kill -9 (lease ${LEASE_S} s, heartbeat ${HEARTBEAT_S} s)`)
      expect(takeoverMs).toBeLessThanOrEqual((LEASE_S + HEARTBEAT_S) * 1000 + 2000)

      await waitUntil('all 200 executions to end', async () => {
        const [row] = await sql`SELECT COUNT(*)::int AS n FROM executions WHERE workflow_id = 'ten' AND state IN ('SUCCESS', 'FAILED', 'CANCELLED')` as { n: number }[]
        return row!.n === 200
      }, 180_000).catch(async (e) => {
        // What is left, and whose: the failure says where the work stopped.
        console.log(JSON.stringify(await sql`SELECT state, reason, owner = ${dead} AS dead_owner, COUNT(*)::int AS n FROM executions GROUP BY 1, 2, 3`))
        throw e
      })

      const states = await sql`SELECT state, COUNT(*)::int AS n FROM executions GROUP BY state` as { state: string; n: number }[]
      expect(states).toEqual([{ state: 'SUCCESS', n: 200 }])

      const { recovered } = await expectNoSuccessRanTwice(sql, key, ids, 10)
      // Every owner change is a CLAIMED event (a takeover: of the dead node's executions, only after its death) or a
      // CLAIMED_QUEUED one (queued work taken by a node with free slots: only before the execution started).
      const moves = async (type: string) => (await sql`SELECT id, execution_id, ts, data FROM audit_events WHERE type = ${type}` as
        { id: number; execution_id: string; ts: number; data: string | { from: string; to: string } }[])
        .map((r) => ({ seq: Number(r.id), id: r.execution_id, ts: Number(r.ts), ...(typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as { from: string; to: string } }))
      const claimed = await moves('CLAIMED')
      const queuedMoves = await moves('CLAIMED_QUEUED')
      expect(claimed.every((c) => c.from === dead && c.to !== dead && c.ts >= killedAt)).toBe(true)
      const starts = await sql`SELECT execution_id, MIN(id)::int AS seq FROM audit_events WHERE type = 'STARTED' AND task_id IS NULL GROUP BY 1` as { execution_id: string; seq: number }[]
      const startedAt = new Map(starts.map((r) => [r.execution_id, r.seq]))
      expect(queuedMoves.every((m) => m.from !== m.to && m.seq < (startedAt.get(m.id) ?? Infinity))).toBe(true)
      // What the dead node held went on elsewhere: taken over, or (queued) taken from it by a node with free slots.
      const queuedFromDead = queuedMoves.filter((m) => m.from === dead && m.ts >= killedAt).map((m) => m.id)
      expect(new Set([...claimed.map((c) => c.id), ...queuedFromDead])).toEqual(new Set([...heldAtKill, ...queuedFromDead]))
      console.log(`queued work moved between nodes: ${queuedMoves.length} (${queuedFromDead.length} from the dead node after its death)`)
      // The survivors took them (both may have).
      const survivors = new Set(claimed.map((c) => c.to))
      expect(survivors.size).toBeGreaterThanOrEqual(1)
      console.log(`claimed ${claimed.length} by ${survivors.size} node(s); ${recovered} interrupted task(s) ran again`)
      // The survivors still answer, and any node answers for any execution.
      expect((await b.api('GET', `/api/v1/executions/${held[0]!}`)).state).toBe('SUCCESS')
      expect((await c.api('GET', `/api/v1/executions/${ids[1]!}`)).state).toBe('SUCCESS')
    } finally {
      await sql.close()
      for (const n of three) if (n.server.proc.exitCode === null) await n.server.stop()
    }
  }, 300_000)

  it('a workflow concurrency limit holds across three nodes and a kill -9: never exceeded (sampled), every execution admitted', async () => {
    const db = await createDatabaseOn(pg!.adminUrl)
    const three = await Promise.all(['a', 'b', 'c'].map((n) => startNode(db.url, `limit-${n}`)))
    const [a] = three as [Node, Node, Node]
    const key = `cluster-limit-${process.pid}-${Date.now()}`
    await a.api('PUT', '/api/v1/workflows/capped', chain('capped', key, 5, [`concurrency: { limit: ${LIMIT} }`]))
    const sql = new SQL({ url: db.url, max: 2 })
    let peak = 0
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        const [row] = await sql`SELECT COUNT(*)::int AS n FROM executions WHERE workflow_id = 'capped'
          AND (state IN ('PENDING', 'RUNNING') OR (state = 'WAITING' AND reason IS DISTINCT FROM 'WORKFLOW_CONCURRENCY'))`.catch(() => [{ n: 0 }]) as { n: number }[]
        peak = Math.max(peak, row!.n)
        await Bun.sleep(50)
      }
    })()
    try {
      const ids = await Promise.all(Array.from({ length: 200 }, async (_, i) =>
        ((await three[i % 3]!.api('POST', '/api/v1/workflows/capped/executions', {})) as { id: string }).id))
      await waitUntil('some executions to be done', async () => {
        const [row] = await sql`SELECT COUNT(*)::int AS n FROM executions WHERE workflow_id = 'capped' AND state = 'SUCCESS'` as { n: number }[]
        return row!.n >= 30
      }, 60_000)
      a.server.proc.kill('SIGKILL')
      await a.server.proc.exited
      await waitUntil('all 200 executions to end', async () => {
        const [row] = await sql`SELECT COUNT(*)::int AS n FROM executions WHERE workflow_id = 'capped' AND state IN ('SUCCESS', 'FAILED', 'CANCELLED')` as { n: number }[]
        return row!.n === 200
      }, 120_000).catch(async (e) => {
        // Where admission stopped: the store's counts and oldest waiting, and what each live node holds.
        console.log(JSON.stringify(await sql`SELECT state, reason, owner, COUNT(*)::int AS n FROM executions GROUP BY 1, 2, 3`))
        console.log(JSON.stringify(await sql`SELECT id, owner, created_at FROM executions WHERE state = 'WAITING' ORDER BY created_at, id LIMIT ${LIMIT}`))
        for (const n of three.slice(1)) {
          const text = await (await fetch(`${n.server.url}/metrics`)).text()
          console.log(n.server.url, text.split('\n').filter((l) => /^autokestra_(queue_depth|running_executions|running_tasks|fenced) /.test(l)).join(' '))
        }
        throw e
      })
      sampling = false
      await sampler
      expect(await sql`SELECT state, COUNT(*)::int AS n FROM executions GROUP BY state`).toEqual([{ state: 'SUCCESS', n: 200 }])
      console.log(`concurrency ${LIMIT} across three nodes and a kill: peak ${peak} holding`)
      expect(peak).toBeLessThanOrEqual(LIMIT)
      expect(peak).toBeGreaterThan(0)
      await expectNoSuccessRanTwice(sql, key, ids, 5)
    } finally {
      sampling = false
      await sampler
      await sql.close()
      for (const n of three) if (n.server.proc.exitCode === null) await n.server.stop()
    }
  }, 300_000)

  it('PostgreSQL stopped for a few seconds under load: nothing lost, nothing run twice, every node goes on', async () => {
    const db = await createDatabaseOn(pg!.adminUrl)
    const three = await Promise.all(['a', 'b', 'c'].map((n) => startNode(db.url, `outage-${n}`)))
    const key = `cluster-outage-${process.pid}-${Date.now()}`
    await three[0]!.api('PUT', '/api/v1/workflows/five', chain('five', key, 5))
    const sql = () => new SQL({ url: db.url, max: 1 })
    const ids = await Promise.all(Array.from({ length: 30 }, async (_, i) =>
      ((await three[i % 3]!.api('POST', '/api/v1/workflows/five/executions', {})) as { id: string }).id))
    let check = sql()
    await waitUntil('work under way on the nodes', async () => {
      const [row] = await check`SELECT COUNT(*)::int AS n FROM task_runs WHERE state = 'SUCCESS'` as { n: number }[]
      return row!.n >= 10
    }, 60_000)
    await check.close()
    for (const n of three) expect(await health(n.server.url)).toMatchObject({ status: 'ok', storage: { backend: 'postgresql' } })
    await pg!.pause()
    const outageAt = performance.now()
    // Every node says so on /health while the database is down (a load balancer's check), within the outage.
    await waitUntil('every node to answer degraded', async () =>
      (await Promise.all(three.map((n) => health(n.server.url)))).every((h) => h.status === 'degraded' && h.storage.backend === 'postgresql'), 2_900)
    await Bun.sleep(Math.max(0, 3000 - (performance.now() - outageAt))) // the outage itself: what is under test is what happens after it
    await pg!.resume()
    check = sql()
    try {
      await waitUntil('every node to answer ok again', async () =>
        (await Promise.all(three.map((n) => health(n.server.url)))).every((h) => h.status === 'ok'), 30_000)
      await waitUntil('all 30 executions to end after the outage', async () => {
        const [row] = await check`SELECT COUNT(*)::int AS n FROM executions WHERE state IN ('SUCCESS', 'FAILED', 'CANCELLED')`.catch(() => [{ n: -1 }]) as { n: number }[]
        return row!.n === 30
      }, 120_000)
      const states = await check`SELECT state, COUNT(*)::int AS n FROM executions GROUP BY state` as { state: string; n: number }[]
      expect(states).toEqual([{ state: 'SUCCESS', n: 30 }])
      await expectNoSuccessRanTwice(check, key, ids, 5)
      // No node was declared dead: nothing changed hands.
      expect(await check`SELECT COUNT(*)::int AS n FROM audit_events WHERE type = 'CLAIMED'`).toEqual([{ n: 0 }])
      // Every node goes on without a restart: each starts and finishes a new execution.
      for (const n of three) {
        const ex = await n.api('POST', '/api/v1/workflows/five/executions?wait=60s', {}) as { state: string }
        expect(ex.state).toBe('SUCCESS')
      }
    } finally {
      await check.close()
      for (const n of three) await n.server.stop()
    }
  }, 300_000)

  it('a per-second cron on three nodes fires once per tick', async () => {
    const db = await createDatabaseOn(pg!.adminUrl)
    const three = await Promise.all(['a', 'b', 'c'].map((n) => startNode(db.url, `cron-${n}`)))
    const yaml = ['id: tick', 'triggers:', '  - type: cron', '    cron: "* * * * * *"', 'tasks:',
      '  - { id: t, type: core/log.info, inputs: { message: tick } }', ''].join('\n')
    await three[0]!.api('PUT', '/api/v1/workflows/tick', yaml)
    const sql = new SQL({ url: db.url, max: 1 })
    try {
      // Ten seconds of ticks, counted in the store (each fire is an execution with its scheduled time).
      await waitUntil('ten seconds of cron fires', async () => {
        const [row] = await sql`SELECT COUNT(DISTINCT scheduled_at)::int AS n FROM executions WHERE workflow_id = 'tick'` as { n: number }[]
        return row!.n >= 10
      }, 60_000)
      await three[0]!.api('PATCH', '/api/v1/workflows/tick', { enabled: false })
      const fires = await sql`SELECT scheduled_at, COUNT(*)::int AS n FROM executions WHERE workflow_id = 'tick' GROUP BY scheduled_at ORDER BY scheduled_at` as { scheduled_at: number; n: number }[]
      expect(fires.length).toBeGreaterThanOrEqual(10)
      expect(fires.every((f) => f.n === 1)).toBe(true)
      // Fired by more than one node over the run? Not required; once per tick is.
      const owners = await sql`SELECT COUNT(DISTINCT owner)::int AS n FROM executions WHERE workflow_id = 'tick'` as { n: number }[]
      console.log(`cron: ${fires.length} ticks, each fired once, by ${owners[0]!.n} node(s)`)
    } finally {
      await sql.close()
      for (const n of three) await n.server.stop()
    }
  }, 120_000)
})
