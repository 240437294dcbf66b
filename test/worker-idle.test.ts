/**
 * The idle execution worker (docs/engine.md#the-idle-worker), through the real engine (real SQLite, real worker
 * threads, real confined processes): a worker that hosts nothing for `execution.workerIdleSeconds` is stopped with
 * its spare processes, the next execution starts a fresh one and runs to SUCCESS, a start that arrives while the
 * stop is under way is not lost, and a `workflow`-level pool keeps its worker until its processes idle out.
 */

import { afterEach, describe, expect, it } from 'bun:test'
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createEngine } from '../actors/engine.ts'
import type { Engine } from '../actors/engine-types.ts'
import { RUNNER_KINDS, type RunnerRegistry } from '../sandbox/runners.ts'
import { gatePath, waitingPath } from './fixtures/runners/gated-close.ts'
import { engineScope } from './helpers/engine-scope.ts'
import { TEST_PLUGINS, testConfig, workflow } from './helpers/engine.ts'

const WARM_PLUGINS = resolve(import.meta.dir, 'fixtures/plugins/warm')
const IDLE = { WORKFLOW_EXECUTION_WORKER_IDLE_SECONDS: '1' }

const scope = engineScope()
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
  await scope.cleanup()
})

/** Polls `cond` until it holds; fails naming `what` past the deadline. */
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(20)
  }
}

async function runToEnd(engine: Engine, yaml: string) {
  const ex = await engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
  const done = await engine.waitFor(ex.id)
  return { done, snap: (await engine.snapshot(ex.id))! }
}

/** The process runners' workspaces of this process (sandbox/process/workspace.ts): one per live worker's runner. */
const workspaces = (): string[] => {
  // A runner holds its workspace's `.alive` open for its life (sandbox/process/workspace.ts): those of this process.
  const out: string[] = []
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`)
      if (target.startsWith(`${tmpdir()}/ak-w-`) && target.endsWith('/.alive')) out.push(target.slice(tmpdir().length + 1, -'/.alive'.length))
    } catch { /* closed meanwhile */ }
  }
  return [...new Set(out)]
}

const LOG = (id: string, runner = '') => `
id: ${id}
tasks:
  - { id: a, type: core/log.info${runner}, inputs: { message: one } }
  - { id: b, type: core/log.info${runner}, needs: [a], inputs: { message: two } }
`

describe('the idle worker', () => {
  it('stops a worker that hosts nothing, with its spare processes, and starts a fresh one for the next execution', async () => {
    const { engine } = await scope.engine({ env: IDLE })
    expect(engine.stats().workers).toMatchObject({ alive: 0, started: 0, idleStops: 0 })
    const first = await runToEnd(engine, LOG('idle-first'))
    expect(first.done.state).toBe('SUCCESS')
    expect(engine.stats().workers).toMatchObject({ alive: 1, started: 1 })
    expect(workspaces()).toHaveLength(1)
    await until('the idle worker to stop', () => engine.stats().workers.alive === 0)
    expect(engine.stats().workers).toMatchObject({ started: 1, idleStops: 1 })
    // Its runner is closed before the thread ends: spare processes killed, their temp dirs and the workspace removed.
    await until('the worker\'s workspace to be removed', () => workspaces().length === 0)
    const next = await runToEnd(engine, LOG('idle-next'))
    expect(next.done.state).toBe('SUCCESS')
    expect(next.snap.taskRuns.map((r) => r.output)).toEqual([{ message: 'one' }, { message: 'two' }])
    expect(engine.stats().workers).toMatchObject({ alive: 1, started: 2, idleStops: 1 })
  }, 60_000)

  it('keeps the worker for the engine\'s life when the idle delay is 0', async () => {
    const { engine } = await scope.engine({ env: { WORKFLOW_EXECUTION_WORKER_IDLE_SECONDS: '0' } })
    // A second engine that stops its worker after 1 s is the clock: once it has, the first still has its own.
    const { engine: witness } = await scope.engine({ env: IDLE })
    expect((await runToEnd(engine, LOG('keep'))).done.state).toBe('SUCCESS')
    expect((await runToEnd(witness, LOG('witness'))).done.state).toBe('SUCCESS')
    await until('the witness\'s worker to stop', () => witness.stats().workers.idleStops === 1)
    expect(engine.stats().workers).toMatchObject({ alive: 1, started: 1, idleStops: 0 })
  }, 60_000)

  it('runs a start that arrives while the idle worker is being stopped', async () => {
    rmSync(gatePath(), { force: true })
    rmSync(waitingPath(), { force: true })
    cleanups.push(() => { rmSync(gatePath(), { force: true }); rmSync(waitingPath(), { force: true }) })
    const runners: RunnerRegistry = { ...RUNNER_KINDS, gated: { module: new URL('./fixtures/runners/gated-close.ts', import.meta.url).href, programs: 'host' } }
    const dir = mkdtempSync(join(tmpdir(), 'ak-idle-gated-'))
    const engine = await createEngine({ config: testConfig(dir, IDLE), runners })
    cleanups.push(async () => {
      await Bun.write(gatePath(), 'open')
      await engine.shutdown({ graceMs: 0 })
      rmSync(dir, { recursive: true, force: true })
    })
    // The gated runner is made in the worker, so the worker's stop waits on its close() until the gate opens.
    expect((await runToEnd(engine, LOG('gated-first', ', runner: gated'))).done.state).toBe('SUCCESS')
    await until('the stop to begin and hold at the gate', () => engine.stats().workers.idleStops === 1 && existsSync(waitingPath()))
    expect(engine.stats().workers.alive).toBe(0)
    // The stop is under way: this start is created, admitted and marked RUNNING, and its handover waits for the stop.
    const ex = await engine.start({ workflow: workflow(LOG('gated-racing')), trigger: { type: 'manual' } })
    // RUNNING is committed just before the handover, which waits for the stop.
    await until('the racing execution to be marked RUNNING', async () => (await engine.store.executions.get(ex.id))?.state === 'RUNNING')
    // Still one stop in progress and no second worker: the handover waits for the stop rather than racing it.
    expect(engine.stats().workers).toMatchObject({ alive: 0, started: 1 })
    await Bun.write(gatePath(), 'open')
    const done = await engine.waitFor(ex.id)
    expect(done.state).toBe('SUCCESS')
    expect(engine.stats().workers).toMatchObject({ alive: 1, started: 2, idleStops: 1 })
  }, 60_000)

  it('keeps a worker whose workflow-level pool holds warm processes until they idle out', async () => {
    const { engine } = await scope.engine({
      plugins: [TEST_PLUGINS, WARM_PLUGINS],
      env: { ...IDLE, WORKFLOW_SANDBOX_WARM_IDLE_SECONDS: '4' },
    })
    const chain = `
id: idle-warm
isolation: workflow
tasks:
  - { id: t0, type: warm/probe.whoami }
  - { id: t1, type: warm/probe.whoami, needs: [t0] }
`
    type Out = { served: number; tmpDir: string }
    const outs = async () => {
      const r = await runToEnd(engine, chain)
      expect(r.done.state).toBe('SUCCESS')
      return r.snap.taskRuns.map((t) => t.output as Out)
    }
    const a = await outs()
    expect(a.map((o) => o.served)).toEqual([1, 2])
    // The idle delay (1 s) passed and the worker was kept: its pool still had the process.
    await until('an idle delay that kept the worker for its pool', () => engine.stats().workers.keptForWarm >= 1)
    expect(engine.stats().workers).toMatchObject({ alive: 1, idleStops: 0 })
    const b = await outs()
    expect(b.map((o) => o.served)).toEqual([3, 4])
    expect(dirname(b[0]!.tmpDir)).toBe(dirname(a[0]!.tmpDir))
    // Once the process idles out (4 s unused), the worker goes at its next look, and the process's dir with it.
    await until('the worker to stop once its pool is empty', () => engine.stats().workers.idleStops === 1)
    await until('the warm process to be gone', () => !existsSync(dirname(a[0]!.tmpDir)))
    // A fresh worker, a fresh pool.
    const c = await outs()
    expect(c.map((o) => o.served)).toEqual([1, 2])
    expect(engine.stats().workers).toMatchObject({ alive: 1, started: 2 })
  }, 60_000)
})
