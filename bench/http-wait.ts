/**
 * Trigger-and-wait over HTTP (issue 14 item 5): the real server (`workflow server start`, a child process on
 * 127.0.0.1), 200 executions of a 3-task `fibo` chain from 50 concurrent clients in a closed loop, each client
 * starting its next execution when the last one ended. `wait`: one request each, `POST …/executions?wait=60s`;
 * `three`: what a client needed before, trigger → SSE stream until `end` → GET the detail. Prints one JSON document.
 * Each isolation level gets a server of its own (the workflow declares `isolation: <level>`), one after the other.
 * Usage: bun bench/http-wait.ts [wait|three|both] [executions=200] [clients=50] [attempt|execution|workflow|levels=levels]
 * ROOT=<checkout> measures another checkout's server (`three` only, for a checkout without ?wait=; `attempt` only,
 * for one without isolation levels).
 */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const which = process.argv[2] ?? 'both'
const total = Number(process.argv[3] ?? 200)
const clients = Number(process.argv[4] ?? 50)
const levelArg = process.argv[5] ?? 'levels'
const LEVELS = ['attempt', 'execution', 'workflow'] as const
type Level = (typeof LEVELS)[number]
const levels: readonly Level[] = levelArg === 'levels' ? LEVELS : [levelArg as Level]
if (!levels.every((l) => LEVELS.includes(l))) throw new Error(`unknown isolation level ${levelArg}`)
const root = process.env.ROOT ?? resolve(import.meta.dir, '..')
const KEY = 'bench-key'
/** The chain at `level`; without the line on a ROOT checkout measured at `attempt` (it may predate the levels). */
const chain = (level: Level) => `id: chain
${level === 'attempt' && process.env.ROOT ? '' : `isolation: ${level}\n`}tasks:
  - { id: a, type: bench/fibo.compute }
  - { id: b, type: bench/fibo.compute, needs: [a] }
  - { id: c, type: bench/fibo.compute, needs: [b] }
outputs:
  n: "{{ tasks.c.output }}"
`

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d

async function withServer<T>(level: Level, fn: (url: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'ak-bench-http-'))
  const port = 20000 + Math.floor(Math.random() * 20000)
  const url = `http://127.0.0.1:${port}`
  await Bun.write(join(dir, 'config.yaml'), [
    `server: { host: 127.0.0.1, port: ${port}, apiKeys: [${KEY}], maxWaitSeconds: 120, idleTimeoutSeconds: 120 }`,
    `storage: { path: ${join(dir, 'bench.db')} }`,
    `plugins: { paths: [${resolve(import.meta.dir, 'plugins')}] }`,
    `execution: { maxConcurrentWorkflows: ${clients}, maxConcurrentTasks: ${clients} }`,
  ].join('\n'))
  const server = Bun.spawn(['bun', resolve(root, 'cli/main.ts'), 'server', 'start', '-c', join(dir, 'config.yaml')],
    { stdout: 'ignore', stderr: 'ignore', env: { ...process.env, AUTOKESTRA_SECRET_KEY: Buffer.alloc(32, 7).toString('base64') } })
  try {
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline && !(await fetch(`${url}/health`).then((r) => r.ok, () => false))) await Bun.sleep(50)
    const put = await fetch(`${url}/api/v1/workflows/chain`, { method: 'PUT', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'text/yaml' }, body: chain(level) })
    if (!put.ok) throw new Error(`apply: ${put.status} ${await put.text()}`)
    return await fn(url)
  } finally {
    server.kill('SIGTERM')
    await server.exited
    rmSync(dir, { recursive: true, force: true })
  }
}

const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }

/** One execution, one request: the answer is the terminal execution (200). */
async function oneRequest(url: string): Promise<void> {
  const r = await fetch(`${url}/api/v1/workflows/chain/executions?wait=120s`, { method: 'POST', headers, body: '{}' })
  const ex = (await r.json()) as { state?: string }
  if (r.status !== 200 || ex.state !== 'SUCCESS') throw new Error(`?wait= answered ${r.status} ${JSON.stringify(ex).slice(0, 300)}`)
}

/** One execution the old way: start (201), read the SSE stream until `end`, then GET the detail. */
async function threeRequests(url: string): Promise<void> {
  const started = (await (await fetch(`${url}/api/v1/workflows/chain/executions`, { method: 'POST', headers, body: '{}' })).json()) as { id: string }
  await (await fetch(`${url}/api/v1/executions/${started.id}/events`, { headers })).text() // closes after `end`
  const ex = (await (await fetch(`${url}/api/v1/executions/${started.id}`, { headers })).json()) as { state?: string }
  if (ex.state !== 'SUCCESS') throw new Error(`execution ${ex.state}`)
}

async function closedLoop(url: string, once: (url: string) => Promise<void>) {
  await once(url) // warm-up: the worker and the spares are up
  const latencies: number[] = []
  let left = total
  const t0 = performance.now()
  await Promise.all(Array.from({ length: clients }, async () => {
    while (left > 0) {
      left--
      const t = performance.now()
      await once(url)
      latencies.push(performance.now() - t)
    }
  }))
  const wallMs = performance.now() - t0
  return { executions: total, clients, wallMs: round(wallMs), executionsPerSec: round(total / (wallMs / 1000)), p50Ms: round(pct(latencies, 50)), p99Ms: round(pct(latencies, 99)) }
}

const out: Record<string, unknown> = {
  machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version, load: (await Bun.file('/proc/loadavg').text()).split(' ').slice(0, 3).join(' ') },
  workload: `${total} executions of a 3-task fibo chain, ${clients} clients in a closed loop, a server per isolation level`,
}
for (const level of levels) {
  const res: Record<string, unknown> = {}
  await withServer(level, async (url) => {
    if (which === 'wait' || which === 'both') res.wait = { requestsPerExecution: 1, ...(await closedLoop(url, oneRequest)) }
    if (which === 'three' || which === 'both') res.three = { requestsPerExecution: 3, ...(await closedLoop(url, threeRequests)) }
  })
  out[level] = res
}
console.log(JSON.stringify(out, null, 2))
