/**
 * W2 on 1, 2 and 3 nodes (issue 19): real server processes (`workflow server start`) on one PostgreSQL database
 * (a private cluster from Debian's postgresql, test/helpers/postgres.ts, or AUTOKESTRA_TEST_POSTGRES_URL), each
 * with its own data dir; a closed loop of 50 clients over HTTP, client i always calling node i mod N with
 * `POST /api/v1/workflows/w2/executions?wait=120s` (trigger and wait in one request), 200 executions of W2's 3-task
 * `bench/fibo` chain per node count, after a warm-up of 20. Every node is a full engine, so on one machine the nodes
 * share its cores with each other and with the database: the figure is what coordination through the store costs
 * and what one host gains (nothing, when it is CPU-bound), not what separate hosts would do.
 * Usage: bun bench/cluster.ts [attempt|execution|workflow] [nodes=1,2,3] — prints JSON.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync, mkdirSync, rmSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { testPostgres } from '../test/helpers/postgres.ts'
import { apiCaller, cleanEnv, freePort, KEY, root, startServerProcess, tempDir, type ServerProcess } from '../test/server-helpers.ts'

const level = process.argv[2] ?? 'workflow'
if (!['attempt', 'execution', 'workflow'].includes(level)) throw new Error(`unknown isolation level ${level}`)
const counts = (process.argv[3] ?? '1,2,3').split(',').map(Number)
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

/** One node's config: its own data dir, the shared database, the bench's plugin; W2's 50 in flight fit on one node. */
function nodeConfig(home: string, port: number, url: string): string {
  mkdirSync(home, { recursive: true })
  const file = join(home, 'config.yaml')
  writeFileSync(file, [
    'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 2',
    'storage:', '  type: postgresql', `  url: ${url}`, '  path: ./data/autokestra.db',
    'execution:', '  maxConcurrentWorkflows: 50', '  maxConcurrentTasks: 50',
    'logging:', '  requests: false',
    'plugins:', `  paths: [${join(root, 'plugins')}, ${resolve(import.meta.dir, 'plugins')}]`, '',
  ].join('\n'))
  return file
}

const pg = await testPostgres()
if (!pg) throw new Error('PostgreSQL is not installed (apt-get install postgresql) and AUTOKESTRA_TEST_POSTGRES_URL is not set')
const dir = tempDir('ak-bench-cluster-')
const results: unknown[] = []
try {
  for (const n of counts) {
    const db = await pg.createDatabase()
    const env = cleanEnv({ AUTOKESTRA_SECRET_KEY: randomBytes(32).toString('base64') })
    const servers: ServerProcess[] = []
    try {
      // One after the other: the first migrates the new database.
      for (let i = 0; i < n; i++) {
        const port = freePort()
        servers.push(await startServerProcess(['bun', 'cli/main.ts'], nodeConfig(join(dir, `${n}-${i}`), port, db.url), port, env))
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
      const r = await loop(EXECUTIONS)
      results.push({
        nodes: n, executions: EXECUTIONS, clients: CLIENTS, executionsPerSec: round(EXECUTIONS / (r.wallMs / 1000)),
        p50Ms: round(pct(r.latencies, 50)), p99Ms: round(pct(r.latencies, 99)), perNode: r.perNode, loadAvg1m: round(loadavg()[0]!, 2),
      })
    } finally {
      for (const s of servers) await s.stop()
      await db.drop()
    }
  }
} finally {
  await pg.stop()
  rmSync(dir, { recursive: true, force: true })
}
console.log(JSON.stringify({ machine: { cpus: cpus().length, bun: Bun.version }, isolation: level, runs: results }, null, 2))
