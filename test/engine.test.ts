import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { effectKey, effects, processesWithEnv, startTestEngine, startedTmpDirs, workflow, type TestEngine } from './helpers/engine.ts'
import { existsSync } from 'node:fs'

let t: TestEngine
beforeAll(async () => {
  t = await startTestEngine({ WORKFLOW_EXECUTION_MAX_CONCURRENT_TASKS: '50' })
})
afterAll(async () => {
  await t.close()
})

const run = async (yaml: string, inputs: Record<string, unknown> = {}) => {
  const ex = await t.engine.start({ workflow: workflow(yaml), inputs, trigger: { type: 'manual' } })
  const done = await t.engine.waitFor(ex.id)
  return { done, snap: (await t.engine.snapshot(ex.id))! }
}
const states = (snap: { taskRuns: { taskId: string; state: string }[] }) => Object.fromEntries(snap.taskRuns.map((r) => [r.taskId, r.state]))

describe('execution engine', () => {
  it('runs a diamond DAG, passing outputs downstream, each task once', async () => {
    const key = effectKey('diamond')
    const { done, snap } = await run(`
id: diamond
tasks:
  - { id: a, type: test/probe.effect, inputs: { key: ${key}, value: 1 } }
  - { id: b, type: test/probe.effect, needs: [a], inputs: { key: ${key}, value: "{{ tasks.a.output.value }}" } }
  - { id: c, type: test/probe.effect, needs: [a], inputs: { key: ${key}, value: 3 } }
  - { id: d, type: test/probe.effect, needs: [b, c], inputs: { key: ${key}, value: "{{ tasks.b.output.value }}+{{ tasks.c.output.value }}" } }
`)
    expect(done.state).toBe('SUCCESS')
    expect(snap.taskRuns.find((r) => r.taskId === 'd')!.output).toMatchObject({ value: '1+3' })
    const lines = effects(key)
    expect(lines.map((l) => l.taskId).sort()).toEqual(['a', 'b', 'c', 'd'])
    const at = Object.fromEntries(lines.map((l) => [l.taskId, l.ts]))
    expect(at.a!).toBeLessThanOrEqual(Math.min(at.b!, at.c!))
    expect(at.d!).toBeGreaterThanOrEqual(Math.max(at.b!, at.c!))
  })

  it('runs a fan-out of 100 independent tasks', async () => {
    const key = effectKey('fanout')
    const tasks = Array.from({ length: 100 }, (_, i) => `  - { id: t${i}, type: test/probe.effect, inputs: { key: ${key} } }`).join('\n')
    const { done, snap } = await run(`id: fanout\ntasks:\n${tasks}\n`)
    expect(done.state).toBe('SUCCESS')
    expect(snap.taskRuns.every((r) => r.state === 'SUCCESS' && r.attempt === 1)).toBe(true)
    expect(effects(key)).toHaveLength(100)
  }, 60_000)

  it('runs a chain of 40 in order', async () => {
    const key = effectKey('chain')
    const tasks = Array.from({ length: 40 }, (_, i) =>
      `  - { id: t${i}, type: test/probe.effect${i ? `, needs: [t${i - 1}]` : ''}, inputs: { key: ${key} } }`).join('\n')
    const { done } = await run(`id: chain\ntasks:\n${tasks}\n`)
    expect(done.state).toBe('SUCCESS')
    expect(effects(key).map((l) => l.taskId)).toEqual(Array.from({ length: 40 }, (_, i) => `t${i}`))
  }, 60_000)

  it('skips the dependents of a failed task and fails the execution, while independent branches finish', async () => {
    const key = effectKey('fail')
    const { done, snap } = await run(`
id: failing
tasks:
  - { id: a, type: test/probe.effect, inputs: { key: ${key}, fail: true } }
  - { id: b, type: test/probe.effect, needs: [a], inputs: { key: ${key} } }
  - { id: c, type: test/probe.effect, needs: [b], inputs: { key: ${key} } }
  - { id: other, type: test/probe.effect, inputs: { key: ${key} } }
`)
    expect(done.state).toBe('FAILED')
    expect(done.error).toMatchObject({ code: 'PLUGIN_ERROR', details: { taskId: 'a' } })
    expect(states(snap)).toEqual({ a: 'FAILED', b: 'SKIPPED', c: 'SKIPPED', other: 'SUCCESS' })
    expect(snap.taskRuns[0]!.error).toMatchObject({ code: 'PLUGIN_ERROR', message: 'planned failure on attempt 1', details: { pluginCode: 'PLANNED' } })
    expect(effects(key).map((l) => l.taskId)).toEqual(['other'])
  })

  it('retries with exponential backoff, and the timestamps show the delays', async () => {
    const key = effectKey('retry')
    const { done, snap } = await run(`
id: retrying
tasks:
  - id: r
    type: test/probe.effect
    retry: { max: 3, backoff: { type: exponential, delay: 200ms, maxDelay: 300ms } }
    inputs: { key: ${key}, failUntilAttempt: 4 }
`)
    expect(done.state).toBe('SUCCESS')
    const run0 = snap.taskRuns[0]!
    expect(run0.attempt).toBe(4)
    expect(run0.attempts.map((a) => a.state)).toEqual(['FAILED', 'FAILED', 'FAILED', 'SUCCESS'])
    const gaps = run0.attempts.slice(1).map((a, i) => a.startedAt - run0.attempts[i]!.endedAt!)
    // 200ms, then 400ms capped at 300ms, then 300ms. (An attempt's end is stamped when its WAITING
    // commit lands, a few ms after the backoff clock started, hence the small tolerance.)
    expect(gaps[0]!).toBeGreaterThanOrEqual(190)
    expect(gaps[1]!).toBeGreaterThanOrEqual(290)
    expect(gaps[2]!).toBeGreaterThanOrEqual(290)
    expect(gaps.every((g) => g < 2000)).toBe(true)
    const audit = (await t.engine.store.audit.forExecution(done.id)).filter((a) => a.taskId === 'r').map((a) => a.type)
    expect(audit.filter((x) => x === 'STARTED')).toHaveLength(4)
  })

  it('fails a task that exceeds its timeout (recorded as TIMEOUT) and kills its process', async () => {
    const key = effectKey('timeout')
    const { done, snap } = await run(`
id: slow
tasks:
  - { id: s, type: test/probe.effect, timeout: 300ms, inputs: { key: ${key}, sleepMs: 20000 } }
`)
    expect(done.state).toBe('FAILED')
    expect(snap.taskRuns[0]!.error).toMatchObject({ code: 'TASK_TIMED_OUT' })
    expect((await t.engine.store.audit.forExecution(done.id)).some((a) => a.type === 'TIMEOUT' && a.taskId === 's')).toBe(true)
    const [tmp] = startedTmpDirs(key)
    expect(tmp).toBeString()
    expect(processesWithEnv(`TMPDIR=${tmp}`)).toEqual([])
    expect(existsSync(tmp!)).toBe(false)
  })

  it('fails an execution that exceeds its own timeout', async () => {
    const key = effectKey('extimeout')
    const { done, snap } = await run(`
id: slow-execution
timeout: 400ms
tasks:
  - { id: s, type: test/probe.effect, inputs: { key: ${key}, sleepMs: 20000 } }
  - { id: after, type: test/probe.effect, needs: [s], inputs: { key: ${key} } }
`)
    expect(done.state).toBe('FAILED')
    expect(done.error).toMatchObject({ code: 'EXECUTION_TIMED_OUT' })
    expect(states(snap)).toEqual({ s: 'FAILED', after: 'FAILED' })
    expect((await t.engine.store.audit.forExecution(done.id)).some((a) => a.type === 'TIMEOUT' && a.taskId === undefined)).toBe(true)
  })

  it('keeps timeouts longer than a 32-bit timer (30 days) instead of firing them at once', async () => {
    const key = effectKey('long-timeouts')
    const { done, snap } = await run(`
id: long-timeouts
timeout: 30d
tasks:
  - { id: a, type: test/probe.effect, timeout: 30d, inputs: { key: ${key}, sleepMs: 100 } }
`)
    expect(snap.taskRuns[0]!.error).toBeUndefined()
    expect(done.state).toBe('SUCCESS')
  })

  it('cancels a running execution: the plugin process is gone afterwards', async () => {
    const key = effectKey('cancel')
    const ex = await t.engine.start({
      workflow: workflow(`
id: cancellable
tasks:
  - { id: s, type: test/probe.effect, inputs: { key: ${key}, sleepMs: 30000 } }
  - { id: after, type: test/probe.effect, needs: [s], inputs: { key: ${key} } }
`), trigger: { type: 'manual' },
    })
    // Wait until the plugin process is really running the attempt (it records its temp dir first).
    const deadline = Date.now() + 10_000
    while (startedTmpDirs(key).length === 0 && Date.now() < deadline) await Bun.sleep(5)
    const [tmp] = startedTmpDirs(key)
    expect(processesWithEnv(`TMPDIR=${tmp}`).length).toBeGreaterThan(0)
    await t.engine.cancel(ex.id, 'test says stop')
    const done = await t.engine.waitFor(ex.id)
    expect(done.state).toBe('CANCELLED')
    expect(done.error).toMatchObject({ code: 'CANCELLED', message: 'test says stop' })
    expect(states((await t.engine.snapshot(ex.id))!)).toEqual({ s: 'CANCELLED', after: 'CANCELLED' })
    expect(processesWithEnv(`TMPDIR=${tmp}`)).toEqual([])
    expect(existsSync(tmp!)).toBe(false)
    expect(effects(key)).toEqual([])
    // Cancelling again is a no-op that returns the terminal record.
    expect((await t.engine.cancel(ex.id)).state).toBe('CANCELLED')
  })

  it('rejects invalid inputs before creating anything', async () => {
    const wf = workflow(`
id: typed
inputs:
  n: { type: number, required: true }
tasks:
  - { id: a, type: core/log.info, inputs: { message: "{{ inputs.n }}" } }
`)
    const before = (await t.engine.store.executions.list()).total
    await expect(t.engine.start({ workflow: wf, inputs: { n: 'x' }, trigger: { type: 'manual' } })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(t.engine.start({ workflow: wf, inputs: {}, trigger: { type: 'manual' } })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    expect((await t.engine.store.executions.list()).total).toBe(before)
  })

  it('fails a task whose input or output breaks the action schema, without retrying', async () => {
    const { done, snap } = await run(`
id: schemas
tasks:
  - { id: badin, type: test/probe.effect, retry: { max: 2 }, inputs: { sleepMs: 1 } }
  - { id: badout, type: test/probe.bad-output, inputs: {} }
  - { id: nope, type: test/probe.missing, inputs: {} }
`)
    expect(done.state).toBe('FAILED')
    const byId = Object.fromEntries(snap.taskRuns.map((r) => [r.taskId, r]))
    expect(byId.badin).toMatchObject({ state: 'FAILED', attempt: 1, error: { code: 'INVALID_TASK_INPUT' } })
    expect(byId.badin!.error!.message).toContain('key: is required')
    expect(byId.badout).toMatchObject({ state: 'FAILED', error: { code: 'INVALID_TASK_OUTPUT' } })
    expect(byId.nope).toMatchObject({ state: 'FAILED', error: { code: 'PLUGIN_NOT_FOUND' } })
  })

  it('checks input with the full JSON Schema ($ref, allOf, format, minItems) and gives the plugin the manifest defaults', async () => {
    const { done, snap } = await run(`
id: full-schemas
tasks:
  - { id: good, type: test/probe.echo, inputs: { owner: { email: ada@example.com }, tags: [ops] } }
  - { id: bad, type: test/probe.echo, inputs: { owner: { email: not-an-email }, tags: [], retries: 9 } }
`)
    expect(done.state).toBe('FAILED')
    const byId = Object.fromEntries(snap.taskRuns.map((r) => [r.taskId, r]))
    expect(byId.good).toMatchObject({ state: 'SUCCESS', output: { input: { owner: { email: 'ada@example.com', role: 'viewer' }, tags: ['ops'], retries: 3 } } })
    expect(byId.bad).toMatchObject({ state: 'FAILED', error: { code: 'INVALID_TASK_INPUT' } })
    expect(byId.bad!.error!.message).toBe('invalid input for test/probe.echo: owner.email: must match format "email"; tags: must NOT have fewer than 1 items; retries: must be <= 5')
  })

  it('captures plugin stdout/stderr as log lines with task, attempt, level and source', async () => {
    const { done } = await run(`
id: logs
tasks:
  - { id: w, type: core/log.warn, inputs: { message: "careful" } }
`)
    const lines = (await t.engine.store.logs.list({ executionId: done.id, taskId: 'w' })).items
    expect(lines.find((l) => l.message === 'careful')).toMatchObject({ level: 'WARN', attempt: 1, source: 'plugin:core/log.warn' })
  })

  it('is deterministic: 20 runs of the same workflow and inputs give the same outcomes', async () => {
    const yaml = `
id: det
inputs:
  x: { type: number, default: 2 }
tasks:
  - { id: a, type: test/probe.effect, inputs: { key: det, value: "{{ inputs.x }}" } }
  - { id: b, type: test/probe.effect, needs: [a], inputs: { key: det, fail: true } }
  - { id: c, type: test/probe.effect, needs: [a], inputs: { key: det, failUntilAttempt: 2 }, retry: { max: 1, backoff: { type: fixed, delay: 10ms } } }
  - { id: d, type: test/probe.effect, needs: [b, c], inputs: { key: det } }
  - { id: e, type: test/probe.effect, needs: [c], inputs: { key: det, value: "{{ tasks.a.output.value }}" } }
`
    effectKey('det')
    const outcomes = new Set<string>()
    for (let i = 0; i < 20; i++) {
      const { done, snap } = await run(yaml, { x: 7 })
      outcomes.add(JSON.stringify([done.state, snap.taskRuns.map((r) => [r.taskId, r.state, r.attempt, r.output ?? null, r.error?.code ?? null])]))
    }
    expect(outcomes.size).toBe(1)
    expect(JSON.parse([...outcomes][0]!)[0]).toBe('FAILED')
  }, 120_000)
})
