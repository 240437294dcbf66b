/**
 * Subflows on the real engine (SQLite file, worker thread, plugin processes): a parent starts a stored workflow's
 * execution with inputs and uses its outputs; the child's failure fails the task with the child's error and id; a
 * cancel or a timeout of the parent cancels the child and kills its processes; a recursion too deep for the static
 * check fails at limits.maxSubflowDepth; the links go both ways.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEngine } from '../actors/engine.ts'
import type { Engine } from '../actors/engine-types.ts'
import { pollUntil } from './helpers/child-engine.ts'
import { EFFECTS_DIR, effectKey as newKey, effects, processesWithEnv, startedTmpDirs, testConfig, workflow } from './helpers/engine.ts'
import { CHILD, parentSource } from './fixtures/subflows.ts'


/** The effect files of this file's keys, removed at the end. */
const keys: string[] = []
const effectKey = (name: string) => {
  const k = newKey(name)
  keys.push(k)
  return k
}

describe('subflows (engine)', () => {
  let dir: string
  let engine: Engine
  const apply = (source: string) => engine.store.workflows.upsert(workflow(source), source, Date.now())
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ak-subflow-'))
    engine = await createEngine({ config: testConfig(dir, { WORKFLOW_LIMITS_MAX_SUBFLOW_DEPTH: '3' }) })
    await apply(CHILD)
  })
  afterAll(async () => {
    await engine.shutdown({ graceMs: 0 })
    rmSync(dir, { recursive: true, force: true })
    for (const k of keys) for (const f of [k, `${k}.started`]) rmSync(join(EFFECTS_DIR, f), { force: true })
  })

  const run = async (source: string, key: string) => {
    const ex = await engine.start({ workflow: workflow(source), trigger: { type: 'manual' }, inputs: { key } })
    return { id: ex.id, done: await engine.waitFor(ex.id) }
  }
  const childOf = async (id: string) => (await engine.store.executions.taskRun(id, 'call'))?.childExecutionId

  it('starts the child with its inputs rendered, waits for it, and its outputs are the task output', async () => {
    const key = effectKey('subflow-ok')
    const { id, done } = await run(parentSource(), key)
    expect(done).toMatchObject({ state: 'SUCCESS', outputs: { answer: 42 } })
    const call = (await engine.store.executions.taskRun(id, 'call'))!
    expect(call).toMatchObject({ state: 'SUCCESS', kind: 'subflow', output: { doubled: 42, attempt: 1 }, attempt: 1 })
    const child = (await engine.store.executions.get(call.childExecutionId!))!
    expect(child).toMatchObject({ state: 'SUCCESS', workflowId: 'child', inputs: { n: 21, key, sleepMs: 0, fail: false }, parent: { executionId: id, taskId: 'call', depth: 1 }, trigger: { type: 'subflow' } })
    // The child ran its task once, the parent its own after it, with the child's output.
    expect(effects(key).map((e) => e.taskId)).toEqual(['work', 'after'])
    const audit = await engine.store.audit.forExecution(id)
    expect(audit.some((a) => a.taskId === 'call' && (a.data as { reason?: string; child?: string })?.reason === 'SUBFLOW' && (a.data as { child?: string }).child === child.id)).toBe(true)
  })

  it("fails the task with SUBFLOW_FAILED, naming the child and its error, when the child fails", async () => {
    const key = effectKey('subflow-fail')
    const { id, done } = await run(parentSource('', ', fail: true'), key)
    expect(done.state).toBe('FAILED')
    const call = (await engine.store.executions.taskRun(id, 'call'))!
    const childId = call.childExecutionId!
    expect(call.error).toMatchObject({ code: 'SUBFLOW_FAILED', details: { executionId: childId, state: 'FAILED', error: { code: 'PLUGIN_ERROR' } } })
    expect(call.error!.message).toContain(childId)
    expect((await engine.store.executions.taskRun(id, 'after'))!.state).toBe('SKIPPED')
  })

  it('a child whose inputs break its declarations fails the attempt with INVALID_INPUT and creates nothing', async () => {
    const key = effectKey('subflow-bad-input')
    const { id, done } = await run(parentSource('', ', sleepMs: "slow"'), key)
    expect(done.state).toBe('FAILED')
    const call = (await engine.store.executions.taskRun(id, 'call'))!
    expect(call.error?.code).toBe('INVALID_INPUT')
    expect((await engine.store.executions.get(call.childExecutionId ?? 'none'))).toBeUndefined()
  })

  const runningChild = async (key: string, id: string) => {
    const childId = await pollUntil(() => childOf(id), 30_000, 'the child to be created')
    await pollUntil(async () => ((await engine.store.executions.taskRun(childId, 'work'))?.state === 'RUNNING' && startedTmpDirs(key).length > 0) || undefined, 30_000, "the child's plugin to run")
    return childId
  }

  it('cancelling the parent cancels the child, and its plugin process is gone', async () => {
    const key = effectKey('subflow-cancel')
    const ex = await engine.start({ workflow: workflow(parentSource('', ', sleepMs: 60000')), trigger: { type: 'manual' }, inputs: { key } })
    const childId = await runningChild(key, ex.id)
    // The parent holds nothing while its child runs: it parked (WAITING, SUBFLOW).
    await pollUntil(async () => ((await engine.store.executions.get(ex.id))?.state === 'WAITING' ? true : undefined), 30_000, 'the parent to park')
    expect((await engine.store.executions.get(ex.id))!.reason).toBe('SUBFLOW')
    await engine.cancel(ex.id)
    expect((await engine.waitFor(ex.id)).state).toBe('CANCELLED')
    const child = await engine.waitFor(childId)
    expect(child).toMatchObject({ state: 'CANCELLED', error: { code: 'CANCELLED' } })
    expect(child.error!.message).toContain(ex.id)
    for (const tmp of startedTmpDirs(key)) expect(processesWithEnv(`TMPDIR=${tmp}`)).toEqual([])
    expect(effects(key)).toEqual([]) // the child's task never reached its side effect
  })

  it("the parent's timeout fails it and cancels the child", async () => {
    const key = effectKey('subflow-timeout')
    const ex = await engine.start({ workflow: workflow(parentSource('timeout: 2s', ', sleepMs: 60000')), trigger: { type: 'manual' }, inputs: { key } })
    const childId = await runningChild(key, ex.id)
    const done = await engine.waitFor(ex.id)
    expect(done).toMatchObject({ state: 'FAILED', error: { code: 'EXECUTION_TIMED_OUT' } })
    expect((await engine.waitFor(childId)).state).toBe('CANCELLED')
    for (const tmp of startedTmpDirs(key)) expect(processesWithEnv(`TMPDIR=${tmp}`)).toEqual([])
  })

  it("the subflow task's own timeout fails it (TASK_TIMED_OUT) and cancels the child", async () => {
    const key = effectKey('subflow-task-timeout')
    const ex = await engine.start({ workflow: workflow(`
id: impatient
inputs: { key: { type: string, required: true } }
tasks:
  - id: call
    timeout: 3s
    subflow: { workflow: child, inputs: { n: 1, key: "{{ inputs.key }}", sleepMs: 60000 } }
`), trigger: { type: 'manual' }, inputs: { key } })
    // The child may or may not have started its plugin by the deadline (a loaded machine): either way it is cancelled.
    const childId = await pollUntil(() => childOf(ex.id), 30_000, 'the child to be created')
    expect(await engine.waitFor(ex.id)).toMatchObject({ state: 'FAILED', error: { code: 'TASK_TIMED_OUT' } })
    expect((await engine.store.executions.taskRun(ex.id, 'call'))!.error).toMatchObject({ code: 'TASK_TIMED_OUT', message: expect.stringContaining('subflow call') })
    const child = await engine.waitFor(childId)
    expect(child).toMatchObject({ state: 'CANCELLED' })
    expect(child.error!.message).toContain(`task call ended`)
    for (const tmp of startedTmpDirs(key)) expect(processesWithEnv(`TMPDIR=${tmp}`)).toEqual([])
  })

  it('a recursion the static check cannot see (a templated workflow id) stops at limits.maxSubflowDepth', async () => {
    await apply(`
id: rec
inputs: { wf: { type: string, required: true } }
tasks:
  - id: call
    subflow: { workflow: "{{ inputs.wf }}", inputs: { wf: "{{ inputs.wf }}" } }
`)
    const ex = await engine.start({ workflowId: 'rec', trigger: { type: 'manual' }, inputs: { wf: 'rec' } })
    expect((await engine.waitFor(ex.id)).state).toBe('FAILED')
    // Top, then depths 1, 2, 3; the child at depth 3 may not start a fourth level.
    const chain = [ex.id]
    for (let i = 0; i < 3; i++) chain.push((await childOf(chain.at(-1)!))!)
    const deepest = (await engine.store.executions.taskRun(chain[3]!, 'call'))!
    expect(deepest.childExecutionId).toBeUndefined()
    expect(deepest.error).toMatchObject({ code: 'SUBFLOW_DEPTH_EXCEEDED', details: { depth: 4, maxDepth: 3 } })
    expect((await engine.store.executions.get(chain[3]!))!.parent).toMatchObject({ executionId: chain[2], depth: 3 })
    const top = (await engine.store.executions.taskRun(ex.id, 'call'))!
    expect(top.error).toMatchObject({ code: 'SUBFLOW_FAILED', details: { executionId: chain[1], state: 'FAILED' } })
    expect((await engine.store.executions.list({ workflowId: 'rec' })).total).toBe(4)
  })
})
