/**
 * Engine benchmarks (issue 3): W1 40 sequential fibo tasks, W2 200 executions of a 3-task chain with
 * ≤ 50 in flight, W3 engine RSS idle and with 100 sleeping executions, plus worker spawn cost; `foreach`: a
 * 1,000-item forEach of a trivial plugin with concurrency 10 against 1,000 plain independent tasks under the same
 * 10 task slots (issue 13); `subflow`: the same forEach with a subflow (a child execution) per item, against calling
 * the plugin directly. `levels`: W1 and W2 at each isolation level (issue 14).
 * Usage: bun bench/engine.ts [w1|w2|w3|workers|foreach|subflow|levels|scripts|all] [attempt|execution|workflow]   — prints one
 * JSON document. The second argument (default: the config's, attempt) is the isolation level W1 and W2 run at.
 * `BENCH_POSTGRES_URL` runs it on PostgreSQL (an empty database: the engine migrates it).
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import * as Comlink from 'comlink'
import { createEngine } from '../actors/engine.ts'
import type { Engine } from '../actors/engine-types.ts'
import { loadConfig } from '../runtime/config/index.ts'
import { parseWorkflow, type Workflow } from '../runtime/workflow/index.ts'

const PLUGINS = resolve(import.meta.dir, 'plugins')
const BOOT = resolve(import.meta.dir, '../sandbox/sdk/boot.ts')

type Level = 'attempt' | 'execution' | 'workflow'
const LEVELS: readonly Level[] = ['attempt', 'execution', 'workflow']
/** The isolation level W1 and W2 declare (`isolation:` on the workflow); unset: the engine's default. */
const levelArg = process.argv[3] as Level | undefined
if (levelArg !== undefined && !LEVELS.includes(levelArg)) throw new Error(`unknown isolation level ${levelArg}`)
const isolationLine = (level: Level | undefined) => (level ? `isolation: ${level}\n` : '')

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d

function wf(yaml: string): Workflow {
  const r = parseWorkflow(yaml)
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  return r.workflow
}

/** `BENCH_POSTGRES_URL=postgres://…` runs the engine on that PostgreSQL database instead of a temp SQLite file (issue 19). */
const onPostgres = process.env.BENCH_POSTGRES_URL ? { WORKFLOW_STORAGE_TYPE: 'postgresql', WORKFLOW_STORAGE_URL: process.env.BENCH_POSTGRES_URL } : {}

async function withEngine<T>(env: Record<string, string>, fn: (e: Engine) => Promise<T>, localWorkflows?: Workflow[]): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'ak-bench-'))
  const config = loadConfig({ env: { WORKFLOW_STORAGE_PATH: join(dir, 'bench.db'), WORKFLOW_PLUGINS_PATHS: PLUGINS, ...onPostgres, ...env }, cwd: dir })
  const engine = await createEngine({ config, ...(localWorkflows ? { localWorkflows: new Map(localWorkflows.map((w) => [w.id, w])) } : {}) })
  try {
    return await fn(engine)
  } finally {
    await engine.shutdown({ graceMs: 0 })
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * CPU time (ms) of this process (every thread) plus every child it has reaped (`cutime + cstime`, /proc/self/stat):
 * a child's own reaped children are in its figures when it is reaped, so launchers, the namespace init, plugins and
 * `ld.so --list` runs are all counted once they are gone. Not counted: kernel work done by kernel threads on their
 * behalf (network namespace teardown runs in a kworker), which `hostBusyMs` (all CPUs, /proc/stat) bounds from above.
 */
function treeCpuMs(): { self: number; children: number } {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  // Fields after the command name (which may hold spaces): state is field 3, utime 14 … cstime 17.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number)
  return { self: ((f[11]! + f[12]!) * 1000) / CLK_TCK, children: ((f[13]! + f[14]!) * 1000) / CLK_TCK }
}
/** Busy time (ms) of every CPU of the host (/proc/stat: everything but idle and iowait), other sessions' included. */
function hostBusyMs(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const busy = cpu.reduce((a, b) => a + b, 0) - cpu[3]! - cpu[4]! - (cpu[8] ?? 0) - (cpu[9] ?? 0) // minus idle, iowait, guest (in user)
  return (busy * 1000) / CLK_TCK
}
const CLK_TCK = 100 // USER_HZ, fixed at 100 on Linux for /proc

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
  rmSync(join(tmpdir(), `ak-bench-${process.pid}.json`), { force: true })
  return median(times)
}

async function w1(level = levelArg) {
  const tasks = Array.from({ length: 40 }, (_, i) => `  - { id: t${i}, type: bench/fibo.compute${i ? `, needs: [t${i - 1}]` : ''}, inputs: { n: 10 } }`).join('\n')
  const workflow = wf(`id: w1\n${isolationLine(level)}tasks:\n${tasks}\n`)
  const load = loadavg()[0]!
  let cpu = { self: 0, children: 0 }
  let hostMs = 0
  const runs = await withEngine({}, async (engine) => {
    await timeExecution(engine, workflow) // warm-up
    const out: number[] = []
    // The spare left by the warm-up is reaped (counted) during the runs, the one left by the last run is not: even.
    const cpu0 = treeCpuMs()
    const host0 = hostBusyMs()
    for (let i = 0; i < 5; i++) out.push(await timeExecution(engine, workflow))
    const cpu1 = treeCpuMs()
    cpu = { self: cpu1.self - cpu0.self, children: cpu1.children - cpu0.children }
    hostMs = hostBusyMs() - host0
    return out
  })
  const bare = await bareSpawn()
  const perTask = median(runs) / 40
  return {
    w1: {
      isolation: level ?? 'attempt', tasks: 40, runsMs: runs.map((x) => round(x)), medianMs: round(median(runs)), perTaskMs: round(perTask, 2),
      bareProcessMs: round(bare, 2), overheadPerTaskMs: round(perTask - bare, 2),
      // Issue 14: CPU per task, the engine process and all its (reaped) children, over the 5 timed runs (200 tasks).
      cpuPerTaskMs: round((cpu.self + cpu.children) / 200, 2), engineCpuPerTaskMs: round(cpu.self / 200, 2),
      childrenCpuPerTaskMs: round(cpu.children / 200, 2), hostBusyPerTaskMs: round(hostMs / 200, 2), loadAvg1m: round(load, 2),
    },
  }
}

/**
 * Issue 15: what a script task costs against the equivalent plugin. 20 sequential tasks computing fibo(10), as the
 * bench plugin, an inline core/script.bun, a core/script.shell (`::output::` line) and a core/script.python; median
 * of 3 executions after a warm-up, per task. Each attempt is a fresh confined process at the `attempt` level.
 */
async function scripts() {
  const N = 20
  const shapes: Record<string, (i: number) => string> = {
    plugin: (i) => `  - { id: t${i}, type: bench/fibo.compute${i ? `, needs: [t${i - 1}]` : ''}, inputs: { n: 10 } }`,
    bun: (i) => `  - id: t${i}\n    type: core/script.bun\n${i ? `    needs: [t${i - 1}]\n` : ''}    inputs: { n: 10 }\n    script: |\n      const f = (n: number): number => (n < 2 ? n : f(n - 1) + f(n - 2))\n      return f(inputs.n as number)`,
    shell: (i) => `  - id: t${i}\n    type: core/script.shell\n${i ? `    needs: [t${i - 1}]\n` : ''}    commands: |\n      echo "::output n=55::"`,
    python: (i) => `  - id: t${i}\n    type: core/script.python\n${i ? `    needs: [t${i - 1}]\n` : ''}    inputs: { n: 10 }\n    script: |\n      def f(n): return n if n < 2 else f(n - 1) + f(n - 2)\n      outputs["n"] = f(inputs["n"])`,
  }
  const out: Record<string, { medianMs: number; perTaskMs: number; runsMs: number[] }> = {}
  await withEngine({}, async (engine) => {
    for (const [name, task] of Object.entries(shapes)) {
      const workflow = wf(`id: s-${name}\ntasks:\n${Array.from({ length: N }, (_, i) => task(i)).join('\n')}\n`)
      await timeExecution(engine, workflow) // warm-up
      const runs: number[] = []
      for (let i = 0; i < 3; i++) runs.push(await timeExecution(engine, workflow))
      out[name] = { medianMs: round(median(runs)), perTaskMs: round(median(runs) / N, 2), runsMs: runs.map((x) => round(x)) }
    }
  })
  return { scripts: { tasks: N, loadAvg1m: round(loadavg()[0]!, 2), ...out } }
}

async function w2(level = levelArg) {
  const workflow = wf(`id: w2
${isolationLine(level)}tasks:
  - { id: a, type: bench/fibo.compute }
  - { id: b, type: bench/fibo.compute, needs: [a] }
  - { id: c, type: bench/fibo.compute, needs: [b] }
`)
  return withEngine({ WORKFLOW_EXECUTION_MAX_CONCURRENT_WORKFLOWS: '50', WORKFLOW_EXECUTION_MAX_CONCURRENT_TASKS: '50' }, async (engine) => {
    await timeExecution(engine, workflow)
    // When each execution went RUNNING (handed to its worker): its time PENDING, and how fast the first 50 started.
    const running = new Map<string, number>()
    const off = engine.subscribe((e) => { if (e.type === 'execution' && e.state === 'RUNNING' && !running.has(e.executionId)) running.set(e.executionId, performance.now()) })
    const latencies: number[] = []
    const pending: number[] = []
    const t0 = performance.now()
    await Promise.all(Array.from({ length: 200 }, async () => {
      const t = performance.now()
      const ex = await engine.start({ workflow, trigger: { type: 'api' } })
      const done = await engine.waitFor(ex.id)
      if (done.state !== 'SUCCESS') throw new Error(`execution ${done.state}`)
      latencies.push(performance.now() - t)
      pending.push(running.get(ex.id)! - t)
    }))
    const wall = performance.now() - t0
    off()
    const starts = [...running.values()].sort((a, b) => a - b)
    // The issue's W2 is a closed loop: 50 clients, each starting its next execution when its last one ended, so an
    // execution's latency is its own run, not its wait behind 150 others in the engine's queue (the burst above).
    const closed: number[] = []
    let left = 200
    const c0 = performance.now()
    await Promise.all(Array.from({ length: 50 }, async () => {
      while (left > 0) {
        left--
        const t = performance.now()
        const ex = await engine.start({ workflow, trigger: { type: 'api' } })
        const done = await engine.waitFor(ex.id)
        if (done.state !== 'SUCCESS') throw new Error(`execution ${done.state}`)
        closed.push(performance.now() - t)
      }
    }))
    const closedWall = performance.now() - c0
    return { w2: {
      isolation: level ?? 'attempt', executions: 200, inFlightMax: 50, wallMs: round(wall), executionsPerSec: round(200 / (wall / 1000), 1), p50Ms: round(pct(latencies, 50)), p99Ms: round(pct(latencies, 99)),
      pendingP50Ms: round(pct(pending, 50)), first50RunningMs: round(starts[49]! - t0),
      closedLoop: { clients: 50, executionsPerSec: round(200 / (closedWall / 1000), 1), p50Ms: round(pct(closed, 50)), p99Ms: round(pct(closed, 99)) },
    } }
  })
}

/** RSS of a process from /proc, in MB. */
const rssMb = async (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(await Bun.file(`/proc/${pid}/status`).text())![1]) / 1024

/** Anonymous and file-backed resident MB of a process (smaps_rollup): file pages are mostly bun's own code, clean and shared. */
const rssSplitMb = async (pid: number) => {
  const text = await Bun.file(`/proc/${pid}/smaps_rollup`).text()
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN)
  return { anonMb: round(kb('Anonymous') / 1024), fileMb: round((kb('Rss') - kb('Anonymous')) / 1024) }
}

/** W3 on the real server process: RSS idle, then with 100 executions each sleeping in a core/sleep task. */
async function w3() {
  const dir = mkdtempSync(join(tmpdir(), 'ak-bench-w3-'))
  const port = 20000 + Math.floor(Math.random() * 20000)
  const url = `http://127.0.0.1:${port}`
  const key = 'bench-key'
  await Bun.write(join(dir, 'config.yaml'), [
    `server: { host: 127.0.0.1, port: ${port}, apiKeys: [${key}] }`,
    `storage: { path: ${join(dir, 'w3.db')} }`,
    'execution: { maxConcurrentWorkflows: 100, maxConcurrentTasks: 100 }',
  ].join('\n'))
  // ROOT: another checkout's server, measured by this bench (old against new with the same samples).
  const root = process.env.ROOT ?? resolve(import.meta.dir, '..')
  // SERVER: the CLI entry to start instead (a bundle of it, say), for trying a build before keeping it.
  const entry = process.env.SERVER ?? resolve(root, 'cli/main.ts')
  const server = Bun.spawn(['bun', entry, 'server', 'start', '-c', join(dir, 'config.yaml')],
    { stdout: 'ignore', stderr: 'ignore', env: { ...process.env, AUTOKESTRA_SECRET_KEY: Buffer.alloc(32, 7).toString('base64') } })
  const headers = { authorization: `Bearer ${key}` }
  const metric = async (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? NaN)
  try {
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline && !(await fetch(`${url}/health`).then((r) => r.ok, () => false))) await Bun.sleep(50)
    await fetch(`${url}/api/v1/workflows/w3`, { method: 'PUT', headers: { ...headers, 'content-type': 'text/yaml' },
      body: 'id: w3\ninputs:\n  d: { type: string, default: 8s }\ntasks:\n  - { id: s, type: core/sleep.wait, inputs: { duration: "{{ inputs.d }}" } }\n' })
    const start = (d: string) => fetch(`${url}/api/v1/workflows/w3/executions`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ inputs: { d } }) })
    await start('1ms') // warm-up: the worker and the sandbox are up
    while (Date.now() < deadline && (await metric('autokestra_running_executions')) > 0) await Bun.sleep(50)
    await Bun.sleep(500)
    const idle = await rssMb(server.pid)
    // Once idle for longer than the workflow parser's idle stop and the execution worker's (30 s each): what a server
    // that is not being used holds.
    const settledMs = Number(process.env.SETTLE_MS ?? 35_000)
    await Bun.sleep(settledMs)
    const settled = await rssMb(server.pid)
    const settledSplit = await rssSplitMb(server.pid)
    // NaN on a checkout without the gauge (ROOT=<older checkout>).
    const workersSettled = await metric('autokestra_execution_workers')
    await Promise.all(Array.from({ length: 100 }, () => start('8s')))
    const busyDeadline = Date.now() + 30_000
    while (Date.now() < busyDeadline && (await metric('autokestra_running_tasks')) < 100) await Bun.sleep(50)
    const running = await metric('autokestra_running_tasks')
    const busy = await rssMb(server.pid)
    return { w3: { process: 'workflow server start (real server)', idleRssMb: round(idle), [`idleAfter${Math.round(settledMs / 1000)}sRssMb`]: round(settled), with100SleepingRssMb: round(busy), workersAliveSettled: workersSettled, settledSplit, runningTasksAtSample: running, perExecutionKb: round(((busy - idle) * 1024) / 100) } }
  } finally {
    server.kill('SIGTERM')
    await server.exited
    rmSync(dir, { recursive: true, force: true })
  }
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

/**
 * forEach of 1,000 items, concurrency 10, against a fan-out of 1,000 plain tasks, both under 10 task slots: the
 * wall time per iteration and per task (each is one plugin process), and the difference, which is what a
 * forEach iteration costs the engine beyond a plain task.
 */
async function foreach(n = Number(process.env.AK_BENCH_ITEMS ?? 1000)) {
  const loop = wf(`id: loop\ninputs: { items: { type: array } }\ntasks:\n  - { id: each, forEach: inputs.items, concurrency: 10, type: bench/fibo.compute, inputs: { n: "{{ item % 10 }}" } }\n`)
  const plain = wf(`id: plain\ntasks:\n${Array.from({ length: n }, (_, i) => `  - { id: t${i}, type: bench/fibo.compute, inputs: { n: ${i % 10} } }`).join('\n')}\n`)
  const items = Array.from({ length: n }, (_, i) => i)
  return withEngine({ WORKFLOW_EXECUTION_MAX_CONCURRENT_TASKS: '10' }, async (engine) => {
    const time = async (workflow: Workflow, inputs: Record<string, unknown>) => {
      const t = performance.now()
      const ex = await engine.start({ workflow, inputs, trigger: { type: 'api' } })
      const done = await engine.waitFor(ex.id)
      if (done.state !== 'SUCCESS') throw new Error(`execution ${done.state}: ${JSON.stringify(done.error)}`)
      return performance.now() - t
    }
    await time(plain, {}) // warm-up: spares, compiled schemas
    const loopMs = await time(loop, { items })
    const plainMs = await time(plain, {})
    return {
      foreach: {
        items: n, concurrency: 10, slots: 10, forEachWallMs: round(loopMs), plainWallMs: round(plainMs),
        perIterationMs: round(loopMs / n, 2), perPlainTaskMs: round(plainMs / n, 2), overheadPerIterationMs: round((loopMs - plainMs) / n, 2),
      },
    }
  })
}

/**
 * A pipeline per item (the ETL shape): a forEach of `n` items, concurrency 10, whose iteration is a subflow — a child
 * execution of one plugin task — against the same forEach calling the plugin directly, both under 10 task slots.
 * The difference per item is what a child execution costs: its durable creation with the parent run's WAITING, its
 * own start and end commits, and telling the parent.
 */
async function subflowPerItem(n = Number(process.env.AK_BENCH_SUBFLOW_ITEMS ?? 200)) {
  const child = wf(`id: one\ninputs: { n: { type: number } }\noutputs: { r: "{{ tasks.work.output }}" }\ntasks:\n  - { id: work, type: bench/fibo.compute, inputs: { n: "{{ inputs.n }}" } }\n`)
  const viaChild = wf(`id: via-child\ninputs: { items: { type: array } }\ntasks:\n  - { id: each, forEach: inputs.items, concurrency: 10, subflow: { workflow: one, inputs: { n: "{{ item % 10 }}" } } }\n`)
  const direct = wf(`id: direct\ninputs: { items: { type: array } }\ntasks:\n  - { id: each, forEach: inputs.items, concurrency: 10, type: bench/fibo.compute, inputs: { n: "{{ item % 10 }}" } }\n`)
  const items = Array.from({ length: n }, (_, i) => i)
  return withEngine({ WORKFLOW_EXECUTION_MAX_CONCURRENT_TASKS: '10', WORKFLOW_EXECUTION_MAX_CONCURRENT_WORKFLOWS: '16' }, async (engine) => {
    const time = async (workflow: Workflow) => {
      const t = performance.now()
      const ex = await engine.start({ workflow, inputs: { items }, trigger: { type: 'api' } })
      const done = await engine.waitFor(ex.id)
      if (done.state !== 'SUCCESS') throw new Error(`execution ${done.state}: ${JSON.stringify(done.error)}`)
      return performance.now() - t
    }
    await time(direct) // warm-up: spares, compiled schemas
    const childMs = await time(viaChild)
    const directMs = await time(direct)
    return {
      subflowPerItem: {
        items: n, concurrency: 10, slots: 10, subflowWallMs: round(childMs), directWallMs: round(directMs),
        perSubflowItemMs: round(childMs / n, 2), perDirectItemMs: round(directMs / n, 2), overheadPerChildMs: round((childMs - directMs) / n, 2),
      },
    }
  }, [child])
}

const which = process.argv[2] ?? 'all'
const out: Record<string, unknown> = { machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version, kernel: (await Bun.file('/proc/sys/kernel/osrelease').text()).trim() } }
if (which === 'w1' || which === 'all') Object.assign(out, await w1())
if (which === 'w2' || which === 'all') Object.assign(out, await w2())
if (which === 'w3' || which === 'all') Object.assign(out, await w3())
if (which === 'scripts') Object.assign(out, await scripts())
if (which === 'workers' || which === 'all') Object.assign(out, await workers())
if (which === 'foreach' || which === 'all') Object.assign(out, await foreach())
if (which === 'subflow' || which === 'all') Object.assign(out, await subflowPerItem())
if (which === 'levels') {
  for (const level of LEVELS) {
    const w1r = (await w1(level)).w1
    const w2r = (await w2(level)).w2
    out[level] = { w1MedianMs: w1r.medianMs, w1RunsMs: w1r.runsMs, w1PerTaskMs: w1r.perTaskMs, w2ExecPerSec: w2r.executionsPerSec, w2P50Ms: w2r.p50Ms, w2P99Ms: w2r.p99Ms,
      w2ClosedLoop: w2r.closedLoop }
  }
}
console.log(JSON.stringify(out, null, 2))
