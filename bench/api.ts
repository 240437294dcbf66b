/**
 * API throughput: requests/s and p99 for GET /health and GET /api/v1/executions?limit=50 with 10,000
 * executions stored, and newest-first log pages from one execution with 1,000,000 lines; the keyless GET /metrics
 * and the uncached count behind it. Prints JSON.
 * Env: EXECUTIONS (10000), LOG_LINES (1000000), SECONDS (3 per endpoint), CONCURRENCY (32).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../api/app.ts'
import { defaultConfig } from '../runtime/config/index.ts'
import { newExecutionId } from '../runtime/ids.ts'
import { SecretStore } from '../runtime/secrets/index.ts'
import { openSqliteStore } from '../runtime/store/sqlite/store.ts'
import { parseWorkflow } from '../runtime/workflow/parse.ts'

const EXECUTIONS = Number(process.env.EXECUTIONS ?? 10_000)
const LOG_LINES = Number(process.env.LOG_LINES ?? 1_000_000)
const SECONDS = Number(process.env.SECONDS ?? 3)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32)
const KEY = 'bench-key'

const dir = mkdtempSync(join(tmpdir(), 'autokestra-bench-api-'))
const store = openSqliteStore(join(dir, 'bench.db'))
const parsed = parseWorkflow('id: bench\ntasks:\n  - id: a\n    type: core/log.info\n    inputs: { message: hi }\n  - id: b\n    type: core/log.info\n    needs: [a]\n    inputs: { message: hi }\n')
if (!parsed.ok) throw new Error('bench workflow is invalid')

let t = performance.now()
const base = Date.now() - EXECUTIONS * 1000
const ids: string[] = []
await store.commit({
  at: base,
  requests: Array.from({ length: EXECUTIONS }, (_, i) => {
    const id = newExecutionId(base + i * 1000)
    ids.push(id)
    return { transitions: [{ kind: 'create' as const, executionId: id, workflow: parsed.workflow, revision: 1, inputs: { i }, trigger: { type: 'api' as const } }] }
  }),
})
const seedExecutionsMs = performance.now() - t
t = performance.now()
const logged = ids[ids.length - 1]!
const BATCH = 50_000
for (let done = 0; done < LOG_LINES; done += BATCH) {
  const n = Math.min(BATCH, LOG_LINES - done)
  await store.commit({ at: base, requests: [], logs: Array.from({ length: n }, (_, k) => ({
    executionId: logged, taskId: (done + k) % 2 ? 'a' : 'b', attempt: 1, ts: base + done + k,
    level: (done + k) % 100 === 0 ? 'ERROR' : 'INFO', source: 'plugin', message: `line ${done + k} of the benchmark log, some typical text`,
  })) })
}
const seedLogsMs = performance.now() - t

const config = defaultConfig(dir)
config.server.apiKeys = [KEY]
const app = createApp({ engine: undefined, store, secrets: new SecretStore(store.secrets, new Uint8Array(32)), config })
app.listen({ hostname: '127.0.0.1', port: 0 })
const url = `http://127.0.0.1:${app.server!.port}`
const headers = { authorization: `Bearer ${KEY}` }

/** Closed-loop load: CONCURRENCY clients for SECONDS; requests/s and latency percentiles. */
async function load(path: string) {
  const lat: number[] = []
  const end = performance.now() + SECONDS * 1000
  let errors = 0
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < end) {
      const s = performance.now()
      const res = await fetch(url + path, { headers })
      await res.arrayBuffer()
      if (!res.ok) errors++
      lat.push(performance.now() - s)
    }
  }))
  lat.sort((a, b) => a - b)
  const pct = (p: number) => Number(lat[Math.min(lat.length - 1, Math.floor(lat.length * p))]!.toFixed(2))
  return { path, requests: lat.length, errors, rps: Math.round(lat.length / SECONDS), p50Ms: pct(0.5), p99Ms: pct(0.99) }
}

/** Sequential timing of one request, median and max of `n`. */
async function timed(path: string, n = 30) {
  const ms: number[] = []
  let items = 0
  for (let i = 0; i < n; i++) {
    const s = performance.now()
    const body = await (await fetch(url + path, { headers })).json() as { items: unknown[] }
    ms.push(performance.now() - s)
    items = body.items.length
  }
  ms.sort((a, b) => a - b)
  return { path, items, medianMs: Number(ms[Math.floor(n / 2)]!.toFixed(2)), maxMs: Number(ms[n - 1]!.toFixed(2)) }
}

await load('/health') // warm-up
const result = {
  machine: { bun: Bun.version, platform: `${process.platform}-${process.arch}`, concurrency: CONCURRENCY, secondsPerEndpoint: SECONDS },
  seed: { executions: EXECUTIONS, logLines: LOG_LINES, executionsMs: Math.round(seedExecutionsMs), logsMs: Math.round(seedLogsMs) },
  health: await load('/health'),
  executions: await load('/api/v1/executions?limit=50'),
  // Keyless: its store counts are cached 5 s (api/services/metrics.ts); the scan it would otherwise cost each time:
  metrics: await load('/metrics'),
  countByStateMs: await (async () => {
    const ms: number[] = []
    for (let i = 0; i < 9; i++) { const s = performance.now(); await store.executions.countByState(); ms.push(performance.now() - s) }
    ms.sort((a, b) => a - b)
    return { median: Number(ms[4]!.toFixed(1)), max: Number(ms[8]!.toFixed(1)) }
  })(),
  logs: [
    await timed(`/api/v1/executions/${logged}/logs?limit=100`),
    await timed(`/api/v1/executions/${logged}/logs?limit=1000`),
    await timed(`/api/v1/executions/${logged}/logs?limit=100&level=ERROR`),
    await timed(`/api/v1/executions/${logged}/logs?limit=100&taskId=a&offset=10000`),
    await timed(`/api/v1/executions/${logged}/logs?limit=100&since=${new Date(base + LOG_LINES - 500).toISOString()}`),
  ],
}
await app.stop(true)
await store.close()
rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify(result, null, 2))
