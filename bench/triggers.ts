/**
 * The trigger path on the real server (issue 11, item 4): 1,000 triggers from 100 concurrent clients
 * against `workflow server start`, each answered once its execution is durably created. Reports trigger
 * latency, throughput, /health latency during the load, the time until every execution finished, and the
 * raw cost of one fsync on the same filesystem for scale. Prints one JSON document.
 * Env: TRIGGERS (1000), CLIENTS (100). COUNT_FSYNCS=1 attaches `strace -c` to the server's main thread (where
 * SQLite commits) during the triggers and reports its fsync/fdatasync calls; timings of that run are not valid.
 */

import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const TRIGGERS = Number(process.env.TRIGGERS ?? 1000)
const CLIENTS = Number(process.env.CLIENTS ?? 100)
const COUNT_FSYNCS = process.env.COUNT_FSYNCS === '1'
const KEY = 'bench-key'

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d

/** Median cost of a 4 KB append + fdatasync in `dir` (what one durable commit pays at least). */
function fsyncCost(dir: string, n = 50): number {
  const fd = openSync(join(dir, 'fsync-probe'), 'a')
  const page = Buffer.alloc(4096, 1)
  const ms: number[] = []
  try {
    for (let i = 0; i < n; i++) {
      const t = performance.now()
      writeSync(fd, page)
      fdatasyncSync(fd)
      ms.push(performance.now() - t)
    }
  } finally {
    closeSync(fd)
  }
  return pct(ms, 50)
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'ak-bench-triggers-'))
  const port = 20000 + Math.floor(Math.random() * 20000)
  const url = `http://127.0.0.1:${port}`
  await Bun.write(join(dir, 'config.yaml'), [
    `server: { host: 127.0.0.1, port: ${port}, apiKeys: [${KEY}] }`,
    `storage: { path: ${join(dir, 'triggers.db')} }`,
    'execution: { maxConcurrentWorkflows: 50, maxConcurrentTasks: 50 }',
  ].join('\n'))
  const server = Bun.spawn(['bun', resolve(import.meta.dir, '../cli/main.ts'), 'server', 'start', '-c', join(dir, 'config.yaml')],
    { stdout: 'ignore', stderr: 'ignore', env: { ...process.env, AUTOKESTRA_SECRET_KEY: Buffer.alloc(32, 7).toString('base64') } })
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }
  try {
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline && !(await fetch(`${url}/health`).then((r) => r.ok, () => false))) await Bun.sleep(50)
    await fetch(`${url}/api/v1/workflows/t`, { method: 'PUT', headers: { ...headers, 'content-type': 'text/yaml' },
      body: 'id: t\ntasks:\n  - { id: a, type: core/log.info, inputs: { message: hi } }\n' })
    const start = () => fetch(`${url}/api/v1/workflows/t/executions`, { method: 'POST', headers, body: '{"inputs":{}}' })
    await (await start()).arrayBuffer() // warm-up: the worker and the sandbox are up

    const latencies: number[] = []
    const health: number[] = []
    let errors = 0
    let loading = true
    const poller = (async () => {
      while (loading) {
        const t = performance.now()
        await (await fetch(`${url}/health`)).arrayBuffer()
        health.push(performance.now() - t)
        await Bun.sleep(20)
      }
    })()
    const straceOut = join(dir, 'strace.txt')
    const strace = COUNT_FSYNCS
      ? Bun.spawn(['strace', '-qq', '-y', '-e', 'trace=fsync,fdatasync', '-o', straceOut, '-p', String(server.pid)], { stdout: 'ignore', stderr: 'ignore' })
      : undefined
    if (strace) await Bun.sleep(500) // let it attach (a benchmark, not a test)
    let next = 0
    const t0 = performance.now()
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      while (next++ < TRIGGERS) {
        const t = performance.now()
        const r = await start()
        await r.arrayBuffer()
        if (r.status !== 201) errors++
        latencies.push(performance.now() - t)
      }
    }))
    const wall = performance.now() - t0
    let syncCalls: Record<string, number> | undefined
    if (strace) {
      strace.kill('SIGINT')
      await strace.exited
      const table = await Bun.file(straceOut).text()
      // One line per call, `fdatasync(12</path/to/file>) = 0`: count them per file (the WAL, the database, …).
      syncCalls = {}
      for (const m of table.matchAll(/^(fsync|fdatasync)\(\d+<([^>]*)>\)/gm)) {
        const file = m[2]!.split('/').pop()!
        syncCalls[file] = (syncCalls[file] ?? 0) + 1
      }
    }
    loading = false
    await poller
    const drainDeadline = Date.now() + 300_000
    for (;;) {
      const r = await (await fetch(`${url}/api/v1/executions?state=PENDING,RUNNING,WAITING&limit=1`, { headers })).json() as { total: number }
      if (r.total === 0 || Date.now() > drainDeadline) break
      await Bun.sleep(100)
    }
    const drained = performance.now() - t0
    return {
      machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version, kernel: (await Bun.file('/proc/sys/kernel/osrelease').text()).trim() },
      fsyncMedianMs: round(fsyncCost(dir), 2),
      triggers: {
        count: TRIGGERS, clients: CLIENTS, errors, wallMs: round(wall), perSec: round(TRIGGERS / (wall / 1000)),
        p50Ms: round(pct(latencies, 50)), p99Ms: round(pct(latencies, 99)), maxMs: round(Math.max(...latencies)),
      },
      healthDuringLoad: { samples: health.length, p50Ms: round(pct(health, 50), 2), p99Ms: round(pct(health, 99), 2) },
      allExecutionsFinishedMs: round(drained),
      ...(syncCalls !== undefined ? { fsyncCallsDuringTriggers: syncCalls } : {}),
    }
  } finally {
    server.kill('SIGTERM')
    await server.exited
    rmSync(dir, { recursive: true, force: true })
  }
}

console.log(JSON.stringify(await main(), null, 2))
