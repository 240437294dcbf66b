/**
 * W2 on 1, 2 and 3 nodes (issue 19): real server processes (`workflow server start`) on one PostgreSQL database
 * (a private cluster from Debian's postgresql, test/helpers/postgres.ts, or AUTOKESTRA_TEST_POSTGRES_URL), each
 * with its own data dir; a closed loop of 50 clients over HTTP, client i always calling node i mod N with
 * `POST /api/v1/workflows/w2/executions?wait=120s` (trigger and wait in one request), 200 executions of W2's 3-task
 * `bench/fibo` chain per node count, after a warm-up of 20. Every node is a full engine, so on one machine the nodes
 * share its cores with each other and with the database: the figure is what coordination through the store costs
 * and what one host gains (nothing, when it is CPU-bound), not what separate hosts would do.
 * `sqlite` in the node list is the baseline: one server on a SQLite file, same clients.
 * Per run, over the timed loop: the database's statements per second by kind (pg_stat_statements, preloaded in the
 * private cluster this starts: heartbeats, queued claims, commits, all), its transactions per second, its CPU (the
 * postmaster's and its backends' ticks, /proc) and the servers' (each server's process tree); then the same over
 * 10 s with the nodes idle, which is what N nodes cost the database when nothing runs. And the commit lock, sampled
 * every 2 ms over the timed loop: the share of samples it was held, and the transactions waiting for it.
 * Usage: bun bench/cluster.ts [attempt|execution|workflow] [nodes=sqlite,1,2,3] — prints JSON.
 */
import { randomBytes } from 'node:crypto'
import { SQL } from 'bun'
import { readdirSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { LOCK_COMMIT, LOCK_SPACE } from '../runtime/store/postgresql/db.ts'
import { createDatabaseOn, postgresBinDir, startPrivateCluster } from '../test/helpers/postgres.ts'
import { apiCaller, cleanEnv, freePort, KEY, root, startServerProcess, tempDir, type ServerProcess } from '../test/server-helpers.ts'

const level = process.argv[2] ?? 'workflow'
if (!['attempt', 'execution', 'workflow'].includes(level)) throw new Error(`unknown isolation level ${level}`)
const targets = (process.argv[3] ?? 'sqlite,1,2,3').split(',').map((t) => t === 'sqlite' ? 'sqlite' as const : Number(t))
const IDLE_MS = 10_000
const TICK_MS = 1000 / 100 // USER_HZ
const EXECUTIONS = 200
const CLIENTS = 50
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!

const WORKFLOW = `id: w2
isolation: ${level}
tasks:
  - { id: a, type: bench/fibo.compute }
  - { id: b, type: bench/fibo.compute, needs: [a] }
  - { id: c, type: bench/fibo.compute, needs: [b] }
`

/** One node's config: its own data dir, the shared database (none: SQLite), the bench's plugin; W2's 50 in flight fit on one node. */
function nodeConfig(home: string, port: number, url: string | undefined): string {
  mkdirSync(home, { recursive: true })
  const file = join(home, 'config.yaml')
  writeFileSync(file, [
    'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 2',
    'storage:', ...(url ? ['  type: postgresql', `  url: ${url}`] : []), '  path: ./data/autokestra.db',
    'execution:', '  maxConcurrentWorkflows: 50', '  maxConcurrentTasks: 50',
    'logging:', '  requests: false',
    'plugins:', `  paths: [${join(root, 'plugins')}, ${resolve(import.meta.dir, 'plugins')}]`, '',
  ].join('\n'))
  return file
}

/** CPU ticks of a process: its own and its reaped children's (/proc/<pid>/stat fields 14–17), 0 when it is gone. */
function ticks(pid: number): { self: number; reaped: number } {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const x = f.slice(f.lastIndexOf(')') + 2).split(' ') // from field 3 (state) on
    return { self: Number(x[11]) + Number(x[12]), reaped: Number(x[13]) + Number(x[14]) }
  } catch { return { self: 0, reaped: 0 } }
}

/** Each live process's parent, from /proc. */
function parents(): Map<number, number[]> {
  const children = new Map<number, number[]>()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const f = readFileSync(`/proc/${d}/stat`, 'utf8')
      const ppid = Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)])
    } catch { /* gone */ }
  }
  return children
}

/** CPU ms of a process tree: every live member's own ticks plus what each reaped. */
function treeCpuMs(roots: number[]): number {
  const children = parents()
  let total = 0
  const walk = (pid: number) => {
    const t = ticks(pid)
    total += t.self + t.reaped
    for (const c of children.get(pid) ?? []) walk(c)
  }
  for (const r of roots) walk(r)
  return total * TICK_MS
}

interface Statement { query: string; calls: number }
const KINDS: Array<[string, RegExp]> = [
  ['heartbeat', /UPDATE engines SET heartbeat_at/],
  ['queuedClaims', /x\.state = \$\d+ AND x\.owner <> /], // normalised: literals are $n
  ['commits', /pg_advisory_xact_lock/],
]

/**
 * What the database did between two snapshots of one database: statements by kind, explicit transactions (COMMITs;
 * pg_stat_database's counters are flushed up to 10 s late, so they are not used), CPU.
 */
async function dbSnapshot(admin: SQL, name: string, postmaster: number): Promise<{ at: number; statements: Statement[]; cpuMs: number }> {
  const statements = await admin.unsafe(`SELECT query, calls::float8 AS calls FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)`, [name]) as Statement[]
  return { at: performance.now(), statements, cpuMs: treeCpuMs([postmaster]) }
}

function dbLoad(a: Awaited<ReturnType<typeof dbSnapshot>>, b: Awaited<ReturnType<typeof dbSnapshot>>) {
  const secs = (b.at - a.at) / 1000
  const before = new Map(a.statements.map((s) => [s.query, s.calls]))
  const delta = b.statements.map((s) => ({ query: s.query, calls: s.calls - (before.get(s.query) ?? 0) })).filter((s) => s.calls > 0)
  const perSec = (n: number) => round(n / secs)
  const kinds = Object.fromEntries(KINDS.map(([k, re]) => [k, perSec(delta.filter((s) => re.test(s.query)).reduce((n, s) => n + s.calls, 0))]))
  return {
    statementsPerSec: perSec(delta.reduce((n, s) => n + s.calls, 0)), ...kinds,
    transactionsPerSec: perSec(delta.filter((s) => s.query === 'COMMIT').reduce((n, s) => n + s.calls, 0)),
    cpuPercent: round(((b.cpuMs - a.cpuMs) / (secs * 1000)) * 100),
    top: delta.sort((x, y) => y.calls - x.calls).slice(0, 8).map((s) => ({ perSec: perSec(s.calls), query: s.query.replace(/\s+/g, ' ').slice(0, 110) })),
  }
}

/**
 * Samples the commit lock (the advisory lock every serialised write takes, runtime/store/postgresql/db.ts) every
 * 2 ms while `running()`: how often it was held, and how many transactions were queued behind it.
 */
async function sampleCommitLock(admin: SQL, name: string, running: () => boolean): Promise<{ heldPercent: number; meanWaiting: number; samples: number }> {
  let samples = 0, held = 0, waiting = 0
  while (running()) {
    const [r] = await admin.unsafe(`SELECT COUNT(*) FILTER (WHERE granted)::int AS held, COUNT(*) FILTER (WHERE NOT granted)::int AS waiting
      FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 2
      AND database = (SELECT oid FROM pg_database WHERE datname = $3)`, [LOCK_SPACE, LOCK_COMMIT, name]) as { held: number; waiting: number }[]
    samples++
    held += r!.held
    waiting += r!.waiting
    await Bun.sleep(2) // a sampling interval
  }
  return { heldPercent: round((held / Math.max(1, samples)) * 100), meanWaiting: round(waiting / Math.max(1, samples), 2), samples }
}

const bin = postgresBinDir()
if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql)')
const pg = await startPrivateCluster(bin, ['shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.max=1000', 'track_io_timing=off'])
const postmaster = Number(readFileSync(join(pg.data, 'postmaster.pid'), 'utf8').split('\n')[0])
const admin = new SQL({ url: pg.adminUrl, max: 1 })
await admin.unsafe('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
const dir = tempDir('ak-bench-cluster-')
const results: unknown[] = []
try {
  for (const target of targets) {
    const n = target === 'sqlite' ? 1 : target
    const db = target === 'sqlite' ? undefined : await createDatabaseOn(pg.adminUrl)
    const env = cleanEnv({ AUTOKESTRA_SECRET_KEY: randomBytes(32).toString('base64') })
    const servers: ServerProcess[] = []
    try {
      // One after the other: the first migrates the new database.
      for (let i = 0; i < n; i++) {
        const port = freePort()
        servers.push(await startServerProcess(['bun', 'cli/main.ts'], nodeConfig(join(dir, `${target}-${i}`), port, db?.url), port, env))
      }
      const apis = servers.map((s) => apiCaller(s.url))
      await apis[0]!('PUT', '/api/v1/workflows/w2', WORKFLOW)
      const loop = async (total: number) => {
        const latencies: number[] = []
        const perNode = new Array<number>(n).fill(0)
        let left = total
        const t0 = performance.now()
        await Promise.all(Array.from({ length: CLIENTS }, async (_, client) => {
          const node = client % n
          while (left > 0) {
            left--
            const t = performance.now()
            const ex = await apis[node]!('POST', '/api/v1/workflows/w2/executions?wait=120s', {})
            if (ex.state !== 'SUCCESS') throw new Error(`execution ${ex.id} ended ${ex.state} on node ${node}`)
            latencies.push(performance.now() - t)
            perNode[node]!++
          }
        }))
        return { wallMs: performance.now() - t0, latencies, perNode }
      }
      await loop(20) // warm-up: workers, spares or warm processes, the database's caches
      const pids = servers.map((s) => s.proc.pid)
      const snap = () => db ? dbSnapshot(admin, db.name, postmaster) : undefined
      const s0 = await snap()
      const cpu0 = treeCpuMs(pids)
      let running = true
      const lockSampler = db ? sampleCommitLock(admin, db.name, () => running) : undefined
      const r = await loop(EXECUTIONS).finally(() => { running = false })
      const commitLock = await lockSampler
      const serversCpuMs = treeCpuMs(pids) - cpu0
      const s1 = await snap()
      await Bun.sleep(IDLE_MS) // a measurement window, not a wait for state
      const s2 = await snap()
      results.push({
        nodes: target, executions: EXECUTIONS, clients: CLIENTS, executionsPerSec: round(EXECUTIONS / (r.wallMs / 1000)),
        p50Ms: round(pct(r.latencies, 50)), p99Ms: round(pct(r.latencies, 99)), perNode: r.perNode,
        serversCpuMsPerExecution: round(serversCpuMs / EXECUTIONS),
        database: s0 && s1 ? { ...dbLoad(s0, s1), commitLock } : undefined,
        databaseIdle: s1 && s2 ? dbLoad(s1, s2) : undefined,
        loadAvg1m: round(loadavg()[0]!, 2),
      })
    } finally {
      for (const s of servers) await s.stop()
      await db?.drop()
    }
  }
} finally {
  await admin.close()
  await pg.stop()
  rmSync(dir, { recursive: true, force: true })
}
console.log(JSON.stringify({ machine: { cpus: cpus().length, model: cpus()[0]?.model, bun: Bun.version }, isolation: level, runs: results }, null, 2))
