/**
 * Engine benchmarks (issue 3): W1 40 sequential fibo tasks, W2 200 executions of a 3-task chain with
 * ≤ 50 in flight, W3 engine RSS idle and with 100 sleeping executions, plus worker spawn cost.
 * Usage: bun bench/engine.ts [w1|w2|w3|workers|all]   — prints one JSON document.
 */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import * as Comlink from 'comlink'
import { createEngine } from '../actors/engine.ts'
import type { Engine } from '../actors/engine-types.ts'
import { loadConfig } from '../runtime/config/index.ts'
import { parseWorkflow, type Workflow } from '../runtime/workflow/index.ts'

const PLUGINS = resolve(import.meta.dir, 'plugins')
const BOOT = resolve(import.meta.dir, '../sandbox/sdk/boot.ts')

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d

function wf(yaml: string): Workflow {
  const r = parseWorkflow(yaml)
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  return r.workflow
}

async function withEngine<T>(env: Record<string, string>, fn: (e: Engine) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'ak-bench-'))
  const config = loadConfig({ env: { WORKFLOW_STORAGE_PATH: join(dir, 'bench.db'), WORKFLOW_PLUGINS_PATHS: PLUGINS, ...env }, cwd: dir })
  const engine = await createEngine({ config })
  try {
    return await fn(engine)
  } finally {
    await engine.shutdown({ graceMs: 0 })
    rmSync(dir, { recursive: true, force: true })
  }
}

async function timeExecution(engine: Engine, workflow: Workflow): Promise<number> {
  const t = performance.now()
  const ex = await engine.start({ workflow, trigger: { type: 'api' } })
  const done = await engine.waitFor(ex.id)
  if (done.state !== 'SUCCESS') throw new Error(`execution ${done.state}: ${JSON.stringify(done.error)}`)
  return performance.now() - t
}

/** The bare cost of one plugin process: `bun boot.ts entry` with the invocation on stdin, no engine, no sandbox. */
async function bareSpawn(rounds = 20): Promise<number> {
  const invocation = JSON.stringify({ protocol: 1, action: 'compute', input: { n: 10 }, context: {} })
  const times: number[] = []
  for (let i = 0; i < rounds + 1; i++) {
    const t = performance.now()
    const p = Bun.spawn(['bun', BOOT, join(PLUGINS, 'fibo/index.ts')], { stdin: new Blob([invocation]), stdout: 'ignore', env: { AUTOKESTRA_RESULT_FILE: join(tmpdir(), `ak-bench-${process.pid}.json`) } })
    await p.exited
    if (i > 0) times.push(performance.now() - t)
  }
  return median(times)
}

async function w1() {
  const tasks = Array.from({ length: 40 }, (_, i) => `  - { id: t${i}, type: bench/fibo.compute${i ? `, needs: [t${i - 1}]` : ''}, inputs: { n: 10 } }`).join('\n')
  const workflow = wf(`id: w1\ntasks:\n${tasks}\n`)
  const runs = await withEngine({}, async (engine) => {
    await timeExecution(engine, workflow) // warm-up
    const out: number[] = []
    for (let i = 0; i < 5; i++) out.push(await timeExecution(engine, workflow))
    return out
  })
  const bare = await bareSpawn()
  const perTask = median(runs) / 40
  return {
    w1: {
      tasks: 40, runsMs: runs.map((x) => round(x)), medianMs: round(median(runs)), perTaskMs: round(perTask, 2),
      bareProcessMs: round(bare, 2), overheadPerTaskMs: round(perTask - bare, 2),
    },
  }
}

async function w2() {
  const workflow = wf(`id: w2
tasks:
  - { id: a, type: bench/fibo.compute }
  - { id: b, type: bench/fibo.compute, needs: [a] }
  - { id: c, type: bench/fibo.compute, needs: [b] }
`)
  return withEngine({ WORKFLOW_EXECUTION_MAX_CONCURRENT_WORKFLOWS: '50', WORKFLOW_EXECUTION_MAX_CONCURRENT_TASKS: '50' }, async (engine) => {
    await timeExecution(engine, workflow)
    const latencies: number[] = []
    const t0 = performance.now()
    await Promise.all(Array.from({ length: 200 }, async () => {
      const t = performance.now()
      const ex = await engine.start({ workflow, trigger: { type: 'api' } })
      const done = await engine.waitFor(ex.id)
      if (done.state !== 'SUCCESS') throw new Error(`execution ${done.state}`)
      latencies.push(performance.now() - t)
    }))
    const wall = performance.now() - t0
    return { w2: { executions: 200, inFlightMax: 50, wallMs: round(wall), executionsPerSec: round(200 / (wall / 1000), 1), p50Ms: round(pct(latencies, 50)), p99Ms: round(pct(latencies, 99)) } }
  })
}

async function w3() {
  const workflow = wf(`id: w3\ntasks:\n  - { id: s, type: core/sleep.wait, inputs: { duration: 5s } }\n`)
  return withEngine({ WORKFLOW_EXECUTION_MAX_CONCURRENT_WORKFLOWS: '100', WORKFLOW_EXECUTION_MAX_CONCURRENT_TASKS: '100' }, async (engine) => {
    await timeExecution(engine, wf(`id: warm\ntasks:\n  - { id: s, type: core/sleep.wait, inputs: { duration: 1ms } }\n`))
    Bun.gc(true)
    const idle = process.memoryUsage().rss
    const ids = await Promise.all(Array.from({ length: 100 }, async () => (await engine.start({ workflow, trigger: { type: 'api' } })).id))
    const deadline = Date.now() + 60_000
    while (engine.stats().runningTasks < 100 && Date.now() < deadline) await Bun.sleep(20)
    const running = engine.stats().runningTasks
    Bun.gc(true)
    const busy = process.memoryUsage().rss
    await Promise.all(ids.map((id) => engine.waitFor(id)))
    return { w3: { idleRssMb: round(idle / 2 ** 20), with100SleepingRssMb: round(busy / 2 ** 20), runningTasksAtSample: running, perExecutionKb: round((busy - idle) / 100 / 1024) } }
  })
}

/** What a worker costs (spawn + init round trip, RSS), to weigh one worker per execution against a shared one. */
async function workers() {
  Bun.gc(true)
  const before = process.memoryUsage().rss
  const spawnMs: number[] = []
  const list: Worker[] = []
  for (let i = 0; i < 8; i++) {
    const t = performance.now()
    const w = new Worker(new URL('../actors/worker/entry.ts', import.meta.url).href)
    const api = Comlink.wrap<{ hosted(): string[] }>(w)
    await api.hosted().catch(() => [])
    spawnMs.push(performance.now() - t)
    list.push(w)
  }
  Bun.gc(true)
  const after = process.memoryUsage().rss
  for (const w of list) w.terminate()
  return { workers: { spawnMs: round(median(spawnMs), 2), rssPerWorkerMb: round((after - before) / 8 / 2 ** 20, 1) } }
}

const which = process.argv[2] ?? 'all'
const out: Record<string, unknown> = { machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version, kernel: (await Bun.file('/proc/sys/kernel/osrelease').text()).trim() } }
if (which === 'w1' || which === 'all') Object.assign(out, await w1())
if (which === 'w2' || which === 'all') Object.assign(out, await w2())
if (which === 'w3' || which === 'all') Object.assign(out, await w3())
if (which === 'workers' || which === 'all') Object.assign(out, await workers())
console.log(JSON.stringify(out, null, 2))
