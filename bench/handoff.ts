/**
 * A workflow's `concurrency` slot handed between nodes (issue 19): two real server processes on one PostgreSQL
 * database, a workflow with `concurrency: { limit: 1 }` and one `core/log.info` task, 20 executions triggered
 * alternately on the two nodes, so each one's slot is freed by the other node's execution most of the time; the
 * time until all 20 succeeded, per round. What it measures is how soon a node learns of a slot freed elsewhere (its
 * slot watcher's poll, or a notification: runtime/store/postgresql/wakeups.ts).
 * Usage: bun bench/handoff.ts [rounds=3] — prints JSON.
 */

import { loadavg } from 'node:os'
import { join } from 'node:path'
import { testPostgres } from '../test/helpers/postgres.ts'
import { apiCaller, cleanEnv, freePort, startServerProcess, tempDir, waitUntil, writeNodeConfig, type ServerProcess } from '../test/server-helpers.ts'

const rounds = Number(process.argv[2] ?? 3)
const EXECUTIONS = 20
const pg = await testPostgres()
if (!pg) throw new Error('PostgreSQL is not installed (apt-get install postgresql) and AUTOKESTRA_TEST_POSTGRES_URL is not set')
const db = await pg.createDatabase()
const dir = tempDir('ak-bench-handoff-')
const servers: ServerProcess[] = []
const ms: number[] = []
try {
  for (const n of ['a', 'b']) {
    const port = freePort()
    servers.push(await startServerProcess(['bun', 'cli/main.ts'], writeNodeConfig(join(dir, n), port, db.url), port, cleanEnv()))
  }
  const [a, b] = servers.map((s) => apiCaller(s.url)) as [ReturnType<typeof apiCaller>, ReturnType<typeof apiCaller>]
  await a('PUT', '/api/v1/workflows/one', 'id: one\nconcurrency: { limit: 1 }\ntasks:\n  - { id: t, type: core/log.info, inputs: { message: hi } }\n')
  for (let round = 0; round <= rounds; round++) {
    const t0 = performance.now()
    for (let i = 0; i < EXECUTIONS; i++) await (i % 2 ? b : a)('POST', '/api/v1/workflows/one/executions', {})
    await waitUntil('the round to end', async () =>
      (await a('GET', '/api/v1/executions?workflowId=one&state=SUCCESS&limit=1')).total >= EXECUTIONS * (round + 1), 120_000)
    if (round > 0) ms.push(Math.round(performance.now() - t0)) // round 0 warms both nodes up
  }
} finally {
  for (const s of servers) await s.stop()
  await pg.stop()
}
const sorted = [...ms].sort((x, y) => x - y)
console.log(JSON.stringify({ executions: EXECUTIONS, limit: 1, nodes: 2, roundsMs: ms, medianMs: sorted[Math.floor(sorted.length / 2)], loadAvg1m: loadavg()[0] }, null, 2))
