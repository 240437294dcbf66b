/**
 * Findings 5, 6 and 14 of issue 10 through the real engine (real SQLite file, real plugin processes and
 * containers): a log flood is bounded in rows with one LOG_TRUNCATED line and audit event and does not
 * starve another execution; a 1M-deep result fails its task INVALID_TASK_OUTPUT and leaves nothing
 * RUNNING; a plugin holding its result FIFO open forever is ended by cancel, and nothing is left behind.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { existsSync, readdirSync, readlinkSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { EngineEvent } from '../../actors/engine-types.ts'
import { startTestEngine, workflow, type TestEngine } from '../helpers/engine.ts'
import { dockerReachable, mustRunDocker } from '../docker/helpers.ts'

const FIXTURES = resolve(import.meta.dir, '../fixtures/plugins/hostile')
const docker = new Dockerode()
const dockerUp = await dockerReachable(docker)
const RUNNERS = dockerUp || mustRunDocker ? (['process', 'docker'] as const) : (['process'] as const)
const FLOOD = 2 * 1024 * 1024

/** Pids with a descriptor open on something under `dir`. */
function openersOf(dir: string): number[] {
  const pids: number[] = []
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readdirSync(`/proc/${pid}/fd`).some((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(dir) } catch { return false } })) pids.push(Number(pid))
    } catch { /* gone, or not ours to read */ }
  }
  return pids
}

let seq = 0
async function run(t: TestEngine, tasks: { action: string; inputs?: Record<string, unknown>; runner: string }[]) {
  const yaml = `id: results-${++seq}\ntasks:\n${tasks.map((k, i) =>
    `  - id: t${i}\n    type: hostile/result-attacks.${k.action}\n    runner: ${k.runner}\n    inputs: ${JSON.stringify(k.inputs ?? {})}\n` +
    (i > 0 ? `    needs: [t${i - 1}]\n` : '')).join('')}`
  const ex = await t.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
  const done = await t.engine.waitFor(ex.id)
  return details(t, ex.id, done.state)
}
async function details(t: TestEngine, id: string, state: string) {
  const snap = (await t.engine.snapshot(id))!
  const logs = (await t.engine.store.logs.list({ executionId: id, limit: 1_000_000 })).items
  const audit = await t.engine.store.audit.forExecution(id)
  return { state, runs: snap.taskRuns, logs, plugin: logs.filter((l) => l.source.startsWith('plugin:')), audit }
}
const truncations = (r: Awaited<ReturnType<typeof details>>) => r.audit.filter((a) => a.type === 'LOG_TRUNCATED').map((a) => a.data)
const truncatedLines = (r: Awaited<ReturnType<typeof details>>) => r.logs.filter((l) => l.source === 'engine' && l.message.startsWith('LOG_TRUNCATED'))

describe('finding 6: log amplification through the engine (sandbox.logLimit: truncate)', () => {
  let t: TestEngine
  beforeAll(async () => {
    t = await startTestEngine({
      WORKFLOW_PLUGINS_PATHS: FIXTURES, WORKFLOW_SANDBOX_MAX_LOG_LINES_PER_ATTEMPT: '1000', WORKFLOW_SANDBOX_MAX_LOG_LINES_PER_EXECUTION: '1500',
    })
  })
  afterAll(() => t.close())

  for (const runner of RUNNERS) {
    it(`turns 2 MiB of newlines into at most 1000 rows, one LOG_TRUNCATED line and one audit event (${runner} runner)`, async () => {
      const r = await run(t, [{ action: 'newlines', inputs: { bytes: FLOOD }, runner }])
      expect(r.state).toBe('SUCCESS')
      expect(r.runs[0]).toMatchObject({ state: 'SUCCESS', output: { flooded: FLOOD } })
      expect(r.plugin).toHaveLength(1000)
      expect(r.plugin.every((l) => l.message === '')).toBe(true)
      expect(truncatedLines(r)).toHaveLength(1)
      expect(truncatedLines(r)[0]).toMatchObject({ level: 'WARN', message: expect.stringContaining('1000 lines per attempt') })
      expect(truncations(r)).toEqual([{ scope: 'attempt', unit: 'lines', max: 1000, mode: 'truncate', attempt: 1 }])
    }, 60_000)
  }

  it('counts every attempt of an execution against its execution cap', async () => {
    const r = await run(t, [{ action: 'lines', inputs: { lines: 900 }, runner: 'process' }, { action: 'lines', inputs: { lines: 900 }, runner: 'process' }])
    expect(r.state).toBe('SUCCESS')
    expect(r.plugin).toHaveLength(1500)
    expect(r.plugin.filter((l) => l.taskId === 't1')).toHaveLength(600)
    expect(truncations(r)).toEqual([{ scope: 'execution', unit: 'lines', max: 1500, mode: 'truncate', attempt: 1 }])
  })
})

describe('finding 6: log amplification through the engine (sandbox.logLimit: fail)', () => {
  let t: TestEngine
  beforeAll(async () => {
    t = await startTestEngine({ WORKFLOW_PLUGINS_PATHS: FIXTURES, WORKFLOW_SANDBOX_MAX_LOG_LINES_PER_ATTEMPT: '1000', WORKFLOW_SANDBOX_LOG_LIMIT: 'fail' })
  })
  afterAll(() => t.close())

  for (const runner of RUNNERS) {
    it(`fails the task RESOURCE_LIMIT at the cap, with one LOG_TRUNCATED line and audit event (${runner} runner)`, async () => {
      const r = await run(t, [{ action: 'newlines', inputs: { bytes: FLOOD }, runner }])
      expect(r.state).toBe('FAILED')
      expect(r.runs[0]).toMatchObject({ state: 'FAILED', error: { code: 'RESOURCE_LIMIT', details: { limit: 'log', scope: 'attempt', unit: 'lines', max: 1000 } } })
      expect(r.plugin.length).toBeLessThanOrEqual(1000)
      expect(truncatedLines(r)).toHaveLength(1)
      expect(truncations(r)).toEqual([{ scope: 'attempt', unit: 'lines', max: 1000, mode: 'fail', attempt: 1 }])
    }, 60_000)
  }
})

describe('finding 6: a flood does not starve another execution', () => {
  let t: TestEngine
  beforeAll(async () => {
    // Caps high enough that the whole flood reaches the supervisor's queue.
    t = await startTestEngine({
      WORKFLOW_PLUGINS_PATHS: FIXTURES, WORKFLOW_SANDBOX_MAX_LOG_LINES_PER_ATTEMPT: '10000000', WORKFLOW_SANDBOX_MAX_LOG_LINES_PER_EXECUTION: '10000000',
      WORKFLOW_SANDBOX_MAX_LOG_BYTES_PER_ATTEMPT: '1000000000', WORKFLOW_SANDBOX_MAX_LOG_BYTES_PER_EXECUTION: '1000000000',
    })
  })
  afterAll(() => t.close())

  it("commits the other execution's run with a bounded share of the flood in the same commit", async () => {
    // Events of one commit are published together, synchronously: a burst of events is one commit.
    let burst = 0
    let open = false
    const floodLinesInBurst = new Map<number, number>()
    let floodId = ''
    let smallDoneBurst = -1
    const order: string[] = []
    const off = t.engine.subscribe((e: EngineEvent) => {
      if (!open) { open = true; burst++; queueMicrotask(() => { open = false }) }
      if (e.type === 'log' && e.line.executionId === floodId) floodLinesInBurst.set(burst, (floodLinesInBurst.get(burst) ?? 0) + 1)
      if (e.type === 'execution' && (e.state === 'SUCCESS' || e.state === 'FAILED')) {
        order.push(e.executionId === floodId ? 'flood' : 'small')
        if (e.executionId !== floodId) smallDoneBurst = burst
      }
    })
    let firstFloodLine: () => void = () => {}
    const flooding = new Promise<void>((r) => (firstFloodLine = r))
    const offFirst = t.engine.subscribe((e) => { if (e.type === 'log' && e.line.executionId === floodId && e.line.source.startsWith('plugin:')) firstFloodLine() })
    const flood = await t.engine.start({ workflow: workflow(`id: flood\ntasks:\n  - id: f\n    type: hostile/result-attacks.newlines\n    inputs: { bytes: ${4 * FLOOD} }\n`), trigger: { type: 'manual' } })
    floodId = flood.id
    await flooding
    offFirst()
    const small = await t.engine.start({ workflow: workflow('id: small\ntasks:\n  - id: s\n    type: hostile/result-attacks.ok\n'), trigger: { type: 'manual' } })
    expect((await t.engine.waitFor(small.id)).state).toBe('SUCCESS')
    await t.engine.waitFor(flood.id)
    off()
    expect(order).toEqual(['small', 'flood'])
    expect(floodLinesInBurst.get(smallDoneBurst) ?? 0).toBeLessThanOrEqual(1000)
  }, 120_000)
})

describe('finding 14 and 5 through the engine: deep results, and cancel while the result FIFO is held', () => {
  let t: TestEngine
  beforeAll(async () => {
    t = await startTestEngine({ WORKFLOW_PLUGINS_PATHS: FIXTURES })
  })
  afterAll(() => t.close())

  for (const runner of RUNNERS) {
    it(`fails a 1M-deep result, as output and as error details, INVALID_TASK_OUTPUT with nothing left RUNNING (${runner} runner)`, async () => {
      for (const where of ['output', 'error']) {
        const r = await run(t, [{ action: 'deep', inputs: { depth: 1_000_000, where }, runner }])
        expect(r.state).toBe('FAILED')
        expect(r.runs[0]).toMatchObject({ state: 'FAILED', error: { code: 'INVALID_TASK_OUTPUT', message: expect.stringContaining('deeper than 256') } })
        expect(r.runs.filter((x) => x.state === 'RUNNING')).toEqual([])
        expect((await t.engine.store.executions.list({ states: ['RUNNING', 'PENDING'] })).items).toEqual([])
      }
    }, 60_000)

    it(`fails a task whose result is a FIFO nobody writes PLUGIN_PROTOCOL_ERROR instead of hanging RUNNING (${runner} runner)`, async () => {
      const r = await run(t, [{ action: 'fifo', runner }])
      expect(r.state).toBe('FAILED')
      expect(r.runs[0]).toMatchObject({ state: 'FAILED', error: { code: 'PLUGIN_PROTOCOL_ERROR', message: expect.stringContaining('FIFO') } })
    }, 30_000)

    it(`cancels a plugin that holds its result FIFO open forever, leaving no container, dir or process (${runner} runner)`, async () => {
      const ex = await t.engine.start({ workflow: workflow(`id: hold-${runner}\ntasks:\n  - id: h\n    type: hostile/result-attacks.fifo-hold\n    runner: ${runner}\n`), trigger: { type: 'manual' } })
      let holding: (path: string) => void = () => {}
      const held = new Promise<string>((r) => (holding = r))
      const off = t.engine.subscribe((e) => {
        const m = e.type === 'log' && e.line.executionId === ex.id ? /holding the result FIFO open at (\S+)/.exec(e.line.message) : null
        if (m) holding(m[1]!)
      })
      const fifo = await held
      off()
      await t.engine.cancel(ex.id)
      const r = await details(t, ex.id, (await t.engine.waitFor(ex.id)).state)
      expect(r.state).toBe('CANCELLED')
      expect(r.runs[0]).toMatchObject({ state: 'CANCELLED' })
      if (runner === 'docker') expect(await docker.listContainers({ all: true, filters: { label: [`autokestra.execution=${ex.id}`] } })).toEqual([])
      else {
        // The attempt's temp dir is gone, and no process holds anything in it open.
        expect(existsSync(dirname(fifo))).toBe(false)
        expect(openersOf(dirname(fifo))).toEqual([])
      }
    }, 60_000)
  }
})
