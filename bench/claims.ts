/**
 * Queued work taken by an idle node (issue 19, actors/supervisor/queue-claims.ts): two real server processes on one
 * PostgreSQL database, each with `maxConcurrentWorkflows: 2`; a workflow of one `core/sleep.wait` task (a real plugin
 * process, 200 ms); 20 executions triggered on node A alone, B idle. Per round: the time until all 20 succeeded, and
 * how many B took from A's queue (their CLAIMED_QUEUED audit event). Without claims A runs them two at a time.
 * `ROOT=<checkout>` runs that checkout's servers (old against new).
 * Usage: [ROOT=…] bun bench/claims.ts [rounds=3] — prints JSON.
 */

import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { testPostgres } from '../test/helpers/postgres.ts'
import { apiCaller, cleanEnv, freePort, startServerProcess, tempDir, waitUntil, writeNodeConfig, type ServerProcess } from '../test/server-helpers.ts'

const rounds = Number(process.argv[2] ?? 3)
const EXECUTIONS = 20
const SLOTS = 2
const root = resolve(process.env.ROOT ?? join(import.meta.dir, '..'))
const pg = await testPostgres()
if (!pg) throw new Error('PostgreSQL is not installed (apt-get install postgresql) and AUTOKESTRA_TEST_POSTGRES_URL is not set')
const db = await pg.createDatabase()
const dir = tempDir('ak-bench-claims-')
const servers: ServerProcess[] = []
const ms: number[] = []
const moved: number[] = []
try {
  for (const n of ['a', 'b']) {
    const port = freePort()
    const config = writeNodeConfig(join(dir, n), port, db.url, { lines: ['execution:', `  maxConcurrentWorkflows: ${SLOTS}`], plugins: join(root, 'plugins') })
    servers.push(await startServerProcess(['bun', join(root, 'cli/main.ts')], config, port, cleanEnv(), root))
  }
  const a = apiCaller(servers[0]!.url)
  await a('PUT', '/api/v1/workflows/nap', 'id: nap\ntasks:\n  - { id: t, type: core/sleep.wait, inputs: { duration: 200ms } }\n')
  for (let round = 0; round <= rounds; round++) {
    const t0 = performance.now()
    const ids: string[] = []
    for (let i = 0; i < EXECUTIONS; i++) ids.push((await a('POST', '/api/v1/workflows/nap/executions', {})).id as string)
    await waitUntil('the round to end', async () =>
      (await a('GET', '/api/v1/executions?workflowId=nap&state=SUCCESS&limit=1')).total >= EXECUTIONS * (round + 1), 120_000).catch(async (e) => {
      const left = (await a('GET', '/api/v1/executions?workflowId=nap&limit=100')).items as { state: string; error?: { message: string } }[]
      console.error(JSON.stringify(left.filter((x) => x.state !== 'SUCCESS').slice(0, 3)))
      throw e
    })
    const took = Math.round(performance.now() - t0)
    const trails = await Promise.all(ids.map((id) => a('GET', `/api/v1/executions/${id}/audit`) as Promise<{ items: { type: string }[] }>))
    if (round > 0) { // round 0 warms both nodes up
      ms.push(took)
      moved.push(trails.filter((t) => t.items.some((e) => e.type === 'CLAIMED_QUEUED')).length)
    }
  }
} finally {
  for (const s of servers) await s.stop()
  await pg.stop()
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]
console.log(JSON.stringify({
  root, executions: EXECUTIONS, slotsPerNode: SLOTS, taskMs: 200, roundsMs: ms, medianMs: median(ms), takenByB: moved, loadAvg1m: loadavg()[0],
}, null, 2))
