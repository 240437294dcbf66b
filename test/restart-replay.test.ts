/**
 * Restart and replay on the real engine (SQLite file, worker thread, plugin processes), counting side effects:
 * a restart re-runs only what did not succeed, in the same execution, with new attempts and a fresh retry budget;
 * a replay reuses the recorded outputs upstream of its task in a new, linked execution.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createEngine } from '../actors/engine.ts'
import type { Engine } from '../actors/engine-types.ts'
import { rejectedAppError } from './helpers/errors.ts'
import { EFFECTS_DIR, effectKey, effects, startTestEngine, testConfig, workflow, type TestEngine } from './helpers/engine.ts'

/** Attempts that started, per task (the probe writes a line when an attempt starts, before it may fail). */
const started = (key: string): Record<string, number> => {
  const file = join(EFFECTS_DIR, `${key}.started`)
  const out: Record<string, number> = {}
  if (!existsSync(file)) return out
  for (const l of readFileSync(file, 'utf8').trim().split('\n').filter(Boolean)) out[l.split(':')[0]!] = (out[l.split(':')[0]!] ?? 0) + 1
  return out
}

export const flaky = (key: string) => `
id: flaky
inputs: { label: { type: string, default: first } }
tasks:
  - id: a
    type: test/probe.effect
    inputs: { key: ${key}, value: "{{ inputs.label }}" }
  - id: b
    type: test/probe.effect
    needs: [a]
    retry: { max: 1, backoff: { type: fixed, delay: 10ms } }
    inputs: { key: ${key}, failUntilAttempt: 4, value: "{{ tasks.a.output.value }}" }
  - id: c
    type: test/probe.effect
    needs: [b]
    inputs: { key: ${key}, value: "{{ inputs.label }}" }
  - id: d
    type: test/probe.effect
    inputs: { key: ${key} }
`

describe('restart and replay (engine)', () => {
  let t: TestEngine
  let engine: Engine
  beforeAll(async () => {
    t = await startTestEngine()
    engine = t.engine
  })
  afterAll(() => t.close())

  const states = async (id: string) => (await engine.snapshot(id))!.taskRuns.map((r) => [r.taskId, r.state, r.attempt])

  it('restart re-runs the failed and skipped runs in the same execution with new attempts; SUCCESS runs never run again', async () => {
    const key = effectKey('restart')
    const ex = await engine.start({ workflow: workflow(flaky(key)), trigger: { type: 'manual' } })
    expect((await engine.waitFor(ex.id)).state).toBe('FAILED')
    expect(await states(ex.id)).toEqual([['a', 'SUCCESS', 1], ['b', 'FAILED', 2], ['c', 'SKIPPED', 0], ['d', 'SUCCESS', 1]])
    const aOutput = (await engine.snapshot(ex.id))!.taskRuns[0]!.output

    const restarted = await engine.restart(ex.id, 'ops')
    expect(restarted).toMatchObject({ id: ex.id, state: 'PENDING' })
    expect((await engine.waitFor(ex.id)).state).toBe('SUCCESS')
    // b: attempts 3 (fails) and 4 (succeeds) — its retry budget counted again from the restart.
    expect(await states(ex.id)).toEqual([['a', 'SUCCESS', 1], ['b', 'SUCCESS', 4], ['c', 'SUCCESS', 1], ['d', 'SUCCESS', 1]])
    expect(started(key)).toEqual({ a: 1, b: 4, c: 1, d: 1 })
    expect(effects(key).map((e) => e.taskId).sort()).toEqual(['a', 'b', 'c', 'd'])
    const snap = (await engine.snapshot(ex.id))!
    expect(snap.taskRuns[0]!.output).toEqual(aOutput)
    expect(snap.taskRuns[1]!.attempts.map((a) => [a.attempt, a.state])).toEqual([[1, 'FAILED'], [2, 'FAILED'], [3, 'FAILED'], [4, 'SUCCESS']])
    const audit = await engine.store.audit.forExecution(ex.id)
    expect(audit.filter((a) => a.type === 'RESTARTED' && a.taskId === undefined).map((a) => a.data)).toEqual([{ from: 'FAILED', to: 'PENDING', tasks: ['b', 'c'], by: 'ops' }])
    expect(audit.filter((a) => a.taskId === undefined).map((a) => a.type)).toEqual(['CREATED', 'STARTED', 'FAILED', 'RESTARTED', 'STARTED', 'COMPLETED'])

    // A SUCCESS execution cannot be restarted; an unknown one is not found.
    expect((await rejectedAppError(engine.restart(ex.id))).code).toBe('CONFLICT')
    expect((await rejectedAppError(engine.restart('ex_nope'))).code).toBe('NOT_FOUND')
  }, 60_000)

  it('restart of a CANCELLED execution runs its cancelled runs again', async () => {
    const key = effectKey('restart-cancel')
    const ex = await engine.start({ workflow: workflow(`id: slow
tasks:
  - { id: first, type: test/probe.effect, inputs: { key: ${key} } }
  - { id: pause, needs: [first], wait: { duration: 1h } }
`), trigger: { type: 'manual' } })
    const until = Date.now() + 20_000
    while (!(await engine.snapshot(ex.id))!.taskRuns.some((r) => r.taskId === 'pause' && r.state === 'WAITING') && Date.now() < until) await Bun.sleep(10)
    await engine.cancel(ex.id)
    expect((await engine.waitFor(ex.id)).state).toBe('CANCELLED')
    await engine.restart(ex.id)
    const back = Date.now() + 20_000
    while (!(await engine.snapshot(ex.id))!.taskRuns.some((r) => r.taskId === 'pause' && r.state === 'WAITING') && Date.now() < back) await Bun.sleep(10)
    expect(await states(ex.id)).toEqual([['first', 'SUCCESS', 1], ['pause', 'WAITING', 0]])
    // Nothing but the wait is left: the execution is parked, WAITING for it (not RUNNING on a worker).
    const until2 = Date.now() + 20_000
    while ((await engine.store.executions.get(ex.id))!.state !== 'WAITING' && Date.now() < until2) await Bun.sleep(10)
    expect(await engine.store.executions.get(ex.id)).toMatchObject({ state: 'WAITING', reason: 'TIMER' })
    await engine.cancel(ex.id)
    expect((await engine.waitFor(ex.id)).state).toBe('CANCELLED')
    expect(started(key)).toEqual({ first: 1 })
  }, 60_000)

  it('replay from a task reuses the outputs upstream of it, runs the rest with the new inputs, and links to the original', async () => {
    const key = effectKey('replay')
    const original = await engine.start({ workflow: workflow(flaky(key).replace('failUntilAttempt: 4', 'failUntilAttempt: 0')), trigger: { type: 'manual' } })
    expect((await engine.waitFor(original.id)).state).toBe('SUCCESS')
    const before = (await engine.snapshot(original.id))!

    const replay = await engine.replay(original.id, { from: 'b', inputs: { label: 'second' }, by: 'ops' })
    expect(replay.id).not.toBe(original.id)
    expect(replay).toMatchObject({ replayOf: { executionId: original.id, fromTask: 'b' }, inputs: { label: 'second' } })
    expect((await engine.waitFor(replay.id)).state).toBe('SUCCESS')
    const after = (await engine.snapshot(replay.id))!
    expect(after.taskRuns.map((r) => [r.taskId, r.state, r.reason ?? null, r.attempt])).toEqual([
      ['a', 'SUCCESS', 'REUSED', 0], ['b', 'SUCCESS', null, 1], ['c', 'SUCCESS', null, 1], ['d', 'SUCCESS', null, 1]])
    // a did not run again: its recorded output (from the first label) is what b saw; c saw the new input.
    expect(after.taskRuns[0]!.output).toEqual(before.taskRuns[0]!.output)
    expect(after.taskRuns[1]!.output).toMatchObject({ value: 'first' })
    expect(after.taskRuns[2]!.output).toMatchObject({ value: 'second' })
    expect(started(key)).toEqual({ a: 1, b: 2, c: 2, d: 2 })
    expect((await engine.store.audit.forExecution(replay.id))[0]).toMatchObject({ type: 'CREATED', data: { replayOf: original.id, from: 'b', reused: ['a'] } })

    expect((await rejectedAppError(engine.replay(original.id, { from: 'nope' }))).code).toBe('NOT_FOUND')
    expect((await rejectedAppError(engine.replay(original.id, { from: 'b', inputs: { nope: 1 } }))).code).toBe('INVALID_INPUT')
    const failed = await engine.start({ workflow: workflow(flaky(effectKey('replay-failed'))), trigger: { type: 'manual' } })
    expect((await engine.waitFor(failed.id)).state).toBe('FAILED')
    const refused = await rejectedAppError(engine.replay(failed.id, { from: 'c' }))
    expect(refused).toMatchObject({ code: 'CONFLICT', details: { tasks: ['b'] } })
  }, 60_000)
})

describe('a restarted execution interrupted by a stop', () => {
  it('resumes on the next start with the retry budget counted from the restart, and SUCCESS runs stay as they were', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ak-restart-stop-'))
    const key = effectKey('restart-stop')
    const wf = workflow(`id: slow-flaky
tasks:
  - { id: a, type: test/probe.effect, inputs: { key: ${key} } }
  - id: b
    type: test/probe.effect
    needs: [a]
    retry: { max: 1, backoff: { type: fixed, delay: 10ms } }
    inputs: { key: ${key}, failUntilAttempt: 3, sleepMs: 4000 }
`)
    let engine = await createEngine({ config: testConfig(dir) })
    try {
      const ex = await engine.start({ workflow: wf, trigger: { type: 'manual' } })
      expect((await engine.waitFor(ex.id)).state).toBe('FAILED') // b: attempts 1 and 2 failed
      await engine.restart(ex.id)
      const until = Date.now() + 20_000
      // Attempt 3 has started in its plugin (which sleeps 4 s before it would succeed): stop the engine now.
      while ((started(key).b ?? 0) < 3 && Date.now() < until) await Bun.sleep(10)
      await engine.shutdown({ graceMs: 0 }) // attempt 3 is interrupted, left RUNNING for recovery
      const file = new Database(join(dir, 'test.db'), { readonly: true })
      expect(file.query("SELECT state, attempt FROM task_runs WHERE execution_id = ? AND task_id = 'b'").get(ex.id)).toEqual({ state: 'RUNNING', attempt: 3 })
      file.close()
      engine = await createEngine({ config: testConfig(dir) })
      // 3 attempts in all, but 1 since the restart: it is given back and runs again (not FAILED, INTERRUPTED).
      expect((await engine.waitFor(ex.id)).state).toBe('SUCCESS')
      const b = (await engine.snapshot(ex.id))!.taskRuns.find((r) => r.taskId === 'b')!
      expect(b).toMatchObject({ state: 'SUCCESS', attempt: 4, attemptBase: 2 })
      expect(started(key)).toEqual({ a: 1, b: 4 })
      expect((await engine.store.audit.forExecution(ex.id)).some((e) => e.type === 'RECOVERED' && e.taskId === 'b')).toBe(true)
    } finally {
      await engine.shutdown({ graceMs: 0 })
      rmSync(dir, { recursive: true, force: true })
    }
  }, 90_000)
})
