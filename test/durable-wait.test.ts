/**
 * Durable waits on the real engine: a `wait` task holds no process and no task slot, its wake-up time is in the
 * SQLite file, and it fires at that time after a kill -9 and a restart — once.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEngine } from '../actors/engine.ts'
import { ChildLines, pollUntil, spawnChildEngine } from './helpers/child-engine.ts'
import { effectKey, effects, testConfig, workflow } from './helpers/engine.ts'

interface RunRow { state: string; reason: string | null; attempt: number; next_attempt_at: number | null; output: string | null }
const runOf = (db: Database, id: string, task: string) =>
  db.query<RunRow, [string, string]>('SELECT state, reason, attempt, next_attempt_at, output FROM task_runs WHERE execution_id = ? AND task_id = ?').get(id, task)!

const source = (key: string, duration = '2s') => `
id: pause
tasks:
  - id: before
    type: test/probe.effect
    inputs: { key: ${key} }
  - id: pause
    needs: [before]
    wait: { duration: ${duration} }
  - id: after
    type: test/probe.effect
    needs: [pause]
    inputs: { key: ${key} }
`

describe('durable wait', () => {
  const dirs: string[] = []
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'ak-wait-'))
    dirs.push(d)
    return d
  }
  afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

  it('holds no task slot and no workflow slot while it waits: another execution runs meanwhile with both limits at 1', async () => {
    const dir = tempDir()
    const engine = await createEngine({ config: testConfig(dir, { WORKFLOW_EXECUTION_MAX_CONCURRENT_TASKS: '1', WORKFLOW_EXECUTION_MAX_CONCURRENT_WORKFLOWS: '1' }) })
    try {
      const key = effectKey('wait-slot')
      const waiting = await engine.start({ workflow: workflow(source(key, '1h')), trigger: { type: 'manual' } })
      await pollUntil(async () => (await engine.snapshot(waiting.id))?.taskRuns.find((t) => t.taskId === 'pause' && t.state === 'WAITING'))
      const snap = (await engine.snapshot(waiting.id))!
      const pause = snap.taskRuns.find((t) => t.taskId === 'pause')!
      expect(pause.reason).toBe('TIMER')
      expect(pause.attempt).toBe(0)
      // Parked: WAITING for its timer, off its worker and out of the running executions.
      await pollUntil(async () => ((await engine.store.executions.get(waiting.id))?.state === 'WAITING' ? true : undefined))
      expect(await engine.store.executions.get(waiting.id)).toMatchObject({ state: 'WAITING', reason: 'TIMER' })
      await pollUntil(() => (engine.stats().runningExecutions === 0 ? true : undefined))
      expect(engine.stats()).toMatchObject({ runningTasks: 0, waitingTasks: 0, runningExecutions: 0, queuedExecutions: 0 })
      const other = await engine.start({ workflow: workflow(`id: other\ntasks:\n  - { id: t, type: test/probe.effect, inputs: { key: ${key}-other } }\n`), trigger: { type: 'manual' } })
      expect((await engine.waitFor(other.id)).state).toBe('SUCCESS')
      expect((await engine.cancel(waiting.id)).id).toBe(waiting.id)
      expect((await engine.waitFor(waiting.id)).state).toBe('CANCELLED')
      expect(effects(key).map((e) => e.taskId)).toEqual(['before'])
    } finally {
      await engine.shutdown({ graceMs: 0 })
    }
  }, 60_000)

  it('a 2 s wait fires at its stored time after kill -9 and a restart, once, and its dependents run once', async () => {
    const dir = tempDir()
    const key = effectKey('wait-kill')
    const wfFile = join(dir, 'pause.yaml')
    await Bun.write(wfFile, source(key))
    const first = spawnChildEngine(dir, 'start', wfFile)
    const [started] = await new ChildLines(first).until((o) => 'started' in o)
    const id = started!.started as string
    const db = new Database(join(dir, 'test.db'), { readonly: true })
    const waiting = await pollUntil(() => {
      const r = runOf(db, id, 'pause')
      return r.state === 'WAITING' ? r : undefined
    }, 30_000, 'the wait to be committed')
    expect(waiting.reason).toBe('TIMER')
    const wakeAt = waiting.next_attempt_at!
    first.kill('SIGKILL')
    await first.exited
    expect(runOf(db, id, 'pause').state).toBe('WAITING')

    const second = spawnChildEngine(dir, 'resume')
    const lines = new ChildLines(second)
    const [resuming] = await lines.until((o) => 'resuming' in o)
    const resumedAt = Date.now()
    expect(resuming).toEqual({ resuming: [id] })
    const out = await lines.until((o) => 'done' in o)
    expect(await second.exited).toBe(0)
    expect(out.at(-1)).toEqual({ done: 'SUCCESS', id })

    const pause = runOf(db, id, 'pause')
    expect(pause.state).toBe('SUCCESS')
    expect(pause.attempt).toBe(1)
    const wokeAt = Date.parse((JSON.parse(pause.output!) as { wokeAt: string }).wokeAt)
    // Never before its time, and counted from when it started, not again from the restart.
    expect(wokeAt).toBeGreaterThanOrEqual(wakeAt)
    expect(wokeAt).toBeLessThan(resumedAt + 2000)
    expect(effects(key).map((e) => e.taskId)).toEqual(['before', 'after'])
    const audit = db.query<{ type: string; data: string }, [string]>("SELECT type, data FROM audit_events WHERE execution_id = ? AND task_id = 'pause' ORDER BY id").all(id)
    expect(audit.map((a) => a.type)).toEqual(['STATE_CHANGE', 'STARTED', 'COMPLETED'])
    db.close()
  }, 90_000)

  it('a wait that came due while the engine was stopped fires at once on the next start', async () => {
    const dir = tempDir()
    const key = effectKey('wait-late')
    let engine = await createEngine({ config: testConfig(dir) })
    const ex = await engine.start({ workflow: workflow(source(key, '1s')), trigger: { type: 'manual' } })
    const pause = await pollUntil(async () => (await engine.snapshot(ex.id))?.taskRuns.find((t) => t.taskId === 'pause' && t.state === 'WAITING'))
    await engine.shutdown({ graceMs: 0 })
    // The engine is down through the wake-up time (the wait's own duration: product time, not a state).
    await Bun.sleep(Math.max(0, pause.nextAttemptAt! - Date.now()) + 200)
    engine = await createEngine({ config: testConfig(dir) })
    try {
      expect((await engine.waitFor(ex.id)).state).toBe('SUCCESS')
      const runs = (await engine.snapshot(ex.id))!.taskRuns
      expect(runs.map((t) => [t.taskId, t.state, t.attempt])).toEqual([['before', 'SUCCESS', 1], ['pause', 'SUCCESS', 1], ['after', 'SUCCESS', 1]])
      expect(effects(key).map((e) => e.taskId)).toEqual(['before', 'after'])
    } finally {
      await engine.shutdown({ graceMs: 0 })
    }
  }, 60_000)

  it('waits until an ISO timestamp given as an input (a template), and refuses one that is no timestamp', async () => {
    const dir = tempDir()
    const engine = await createEngine({ config: testConfig(dir) })
    try {
      const wf = workflow(`id: until
inputs: { at: { type: string, required: true } }
tasks:
  - id: w
    wait: { until: "{{ inputs.at }}" }
`)
      const at = new Date(Date.now() + 300).toISOString()
      const good = await engine.start({ workflow: wf, inputs: { at }, trigger: { type: 'manual' } })
      expect((await engine.waitFor(good.id)).state).toBe('SUCCESS')
      const out = (await engine.snapshot(good.id))!.taskRuns[0]!.output as { wokeAt: string }
      expect(Date.parse(out.wokeAt)).toBeGreaterThanOrEqual(Date.parse(at))
      const bad = await engine.start({ workflow: wf, inputs: { at: 'tomorrow' }, trigger: { type: 'manual' } })
      const end = await engine.waitFor(bad.id)
      expect(end.state).toBe('FAILED')
      expect((await engine.snapshot(bad.id))!.taskRuns[0]!.error).toMatchObject({ code: 'TEMPLATE_ERROR' })
    } finally {
      await engine.shutdown({ graceMs: 0 })
    }
  }, 60_000)
})
