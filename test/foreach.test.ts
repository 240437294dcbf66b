/**
 * forEach on the real engine (issue 13 item 3): real plugin processes on a real SQLite file — a computed list with
 * concurrency 3, `item`/`index` in inputs and `if:`, the outputs list read downstream, the iteration audit trail,
 * 1,000 items, the item limit, a failing iteration with and without allowFailure, and a cancel mid-forEach whose
 * plugin processes are gone.
 */
import { afterEach, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stripAnsi } from 'consola/utils'
import { createEngine } from '../actors/engine.ts'
import { toExecutionDetail } from '../api/services/execution-dto.ts'
import { inspectText } from '../cli/render/execution.ts'
import { effectKey, effects, processesWithEnv, startedTmpDirs, startTestEngine, testConfig, workflow, type TestEngine } from './helpers/engine.ts'
import { removeEffects } from './storage-helpers.ts'

const engines: TestEngine[] = []
const keys: string[] = []
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close()
  removeEffects(keys.splice(0))
})
const key = (name: string) => {
  const k = effectKey(name)
  keys.push(k)
  return k
}
const engine = async (env: Record<string, string> = {}) => {
  const t = await startTestEngine(env)
  engines.push(t)
  return t
}
const statesOf = async (t: TestEngine, id: string) =>
  Object.fromEntries(toExecutionDetail((await t.engine.snapshot(id))!).tasks.map((r) => [r.taskId, r.reason ? `${r.state}:${r.reason}` : r.state]))

describe('forEach on the real engine', () => {
  it('runs a computed list with concurrency 3 in index order, item/index in inputs and if:, the outputs list read downstream', async () => {
    const t = await engine()
    const k = key('foreach-etl')
    const yaml = `id: foreach-etl
tasks:
  - { id: list, type: test/probe.effect, inputs: { key: ${k}, value: [3, 1, 4, 1, 5, 9, 2, 6] } }
  - id: each
    needs: [list]
    forEach: tasks.list.output.value.map(x, x * 10)
    concurrency: 3
    if: item != 10
    type: test/probe.effect
    inputs: { key: ${k}, sleepMs: 150, value: "{{ index }}:{{ item }}" }
  - id: sum
    needs: [each]
    type: test/probe.effect
    inputs: { key: ${k}, value: "{{ tasks.each.outputs.filter(o, o != null).map(o, o.value) }}" }
outputs:
  ran: "{{ size(tasks.each.outputs.filter(o, o != null)) }}"
`
    const running = new Set<string>()
    let most = 0
    const off = t.engine.subscribe((e) => {
      if (e.type !== 'task' || !e.taskId.startsWith('each[')) return
      if (e.state === 'RUNNING') most = Math.max(most, running.add(e.taskId).size)
      else running.delete(e.taskId)
    })
    const ex = await t.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
    const end = await t.engine.waitFor(ex.id)
    off()
    expect(end.state).toBe('SUCCESS')
    expect(end.outputs).toEqual({ ran: 6 })
    expect(await statesOf(t, ex.id)).toEqual({
      list: 'SUCCESS', each: 'SUCCESS', 'each[0]': 'SUCCESS', 'each[1]': 'SKIPPED:CONDITION_FALSE', 'each[2]': 'SUCCESS',
      'each[3]': 'SKIPPED:CONDITION_FALSE', 'each[4]': 'SUCCESS', 'each[5]': 'SUCCESS', 'each[6]': 'SUCCESS', 'each[7]': 'SUCCESS', sum: 'SUCCESS',
    })
    expect(most).toBe(3)
    // Index order: every iteration that ran started (its process recorded it) in index order.
    expect(effects(k).filter((l) => l.taskId.startsWith('each['))).toHaveLength(6)
    // Dispatched in index order: the RUNNING of each iteration is committed in index order (the audit ids).
    const audit = await t.engine.store.audit.forExecution(ex.id)
    const startedOrder = audit.filter((a) => a.type === 'STARTED' && a.taskId?.startsWith('each[')).map((a) => a.taskId)
    expect(startedOrder).toEqual(['each[0]', 'each[2]', 'each[4]', 'each[5]', 'each[6]', 'each[7]'])
    const sum = (await t.engine.store.executions.taskRun(ex.id, 'sum'))!
    expect((sum.output as { value: unknown }).value).toEqual(['0:30', '2:40', '4:50', '5:90', '6:20', '7:60'])
    const parent = (await t.engine.store.executions.taskRun(ex.id, 'each'))!
    expect(parent.output).toEqual([expect.objectContaining({ value: '0:30' }), null, expect.objectContaining({ value: '2:40' }), null,
      expect.objectContaining({ value: '4:50' }), expect.objectContaining({ value: '5:90' }), expect.objectContaining({ value: '6:20' }), expect.objectContaining({ value: '7:60' })])
    const runs = await t.engine.store.executions.taskRuns(ex.id)
    expect(runs.find((r) => r.taskId === 'each[4]')).toMatchObject({ parentPath: 'each', iteration: 4, kind: 'plugin' })
    // The API's detail and `execution inspect` show each iteration as a run, by its path, under its task.
    const detail = toExecutionDetail((await t.engine.snapshot(ex.id))!)
    expect(detail.tasks.map((r) => r.taskId).slice(1, 4)).toEqual(['each', 'each[0]', 'each[1]'])
    expect(detail.tasks.find((r) => r.taskId === 'each[4]')).toMatchObject({ type: 'test/probe.effect', state: 'SUCCESS', attempts: 1 })
    expect(stripAnsi(inspectText(detail))).toMatch(/each\[1\]\s+test\/probe\.effect\s+SKIPPED \(CONDITION_FALSE\)/)
  }, 30_000)

  it('keeps an audit trail per iteration: its own STARTED and COMPLETED, retries with their attempts, the parent around them', async () => {
    const t = await engine()
    const k = key('foreach-audit')
    const yaml = `id: foreach-audit
tasks:
  - id: each
    forEach: "[0, 1]"
    retry: { max: 1, backoff: { delay: 50ms } }
    type: test/probe.effect
    inputs: { key: ${k}, failUntilAttempt: "{{ item + 1 }}", value: "{{ item }}" }
`
    const ex = await t.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
    expect((await t.engine.waitFor(ex.id)).state).toBe('SUCCESS')
    const audit = await t.engine.store.audit.forExecution(ex.id)
    const trail = (task: string) => audit.filter((a) => a.taskId === task).map((a) => `${a.type}:${(a.data as { to?: string }).to}:${(a.data as { attempt?: number }).attempt}`)
    expect(trail('each')).toEqual(['STARTED:RUNNING:1', 'COMPLETED:SUCCESS:1'])
    expect(audit.find((a) => a.taskId === 'each' && a.type === 'STARTED')?.data).toMatchObject({ items: 2 })
    expect(trail('each[0]')).toEqual(['STARTED:RUNNING:1', 'COMPLETED:SUCCESS:1'])
    expect(trail('each[1]')).toEqual(['STARTED:RUNNING:1', 'STATE_CHANGE:WAITING:1', 'STARTED:RUNNING:2', 'COMPLETED:SUCCESS:2'])
    const second = (await t.engine.store.executions.taskRun(ex.id, 'each[1]'))!
    expect(second.attempts.map((a) => a.state)).toEqual(['FAILED', 'SUCCESS'])
    // The parent's STARTED is before its iterations', its COMPLETED after theirs.
    const order = audit.filter((a) => a.taskId?.startsWith('each')).map((a) => `${a.taskId}:${a.type}`)
    expect(order[0]).toBe('each:STARTED')
    expect(order.at(-1)).toBe('each:COMPLETED')
    // Each iteration's logs are its own (the engine's line for its failed attempt names it).
    const logs = await t.engine.store.logs.list({ executionId: ex.id, taskId: 'each[1]', limit: 100 })
    expect(logs.items.length).toBeGreaterThan(0)
    expect(logs.items.every((l) => l.taskId === 'each[1]')).toBe(true)
  }, 30_000)

  it('runs 1,000 iterations (concurrency 10) of core/log.info, each a run, their outputs in order', async () => {
    const t = await engine()
    const flat = `id: foreach-1000
inputs: { items: { type: array } }
tasks:
  - id: each
    forEach: "{{ inputs.items }}"
    concurrency: 10
    type: core/log.info
    inputs: { message: "{{ item }}" }
outputs:
  count: "{{ size(tasks.each.outputs) }}"
`
    const items = Array.from({ length: 1000 }, (_, i) => i)
    const ex = await t.engine.start({ workflow: workflow(flat), inputs: { items }, trigger: { type: 'manual' } })
    const end = await t.engine.waitFor(ex.id)
    expect(end.state).toBe('SUCCESS')
    expect(end.outputs).toEqual({ count: 1000 })
    const runs = await t.engine.store.executions.taskRuns(ex.id)
    expect(runs).toHaveLength(1001)
    expect(runs.every((r) => r.state === 'SUCCESS')).toBe(true)
    expect(runs.slice(1).map((r) => r.iteration)).toEqual(items)
    const parent = runs[0]!.output as { message: unknown }[]
    expect(parent.map((o) => Number(o.message))).toEqual(items)
  }, 180_000)

  it('a list over limits.maxForEachItems fails the task with FOR_EACH_TOO_MANY_ITEMS and creates no iteration; a non-list is FOR_EACH_NOT_A_LIST', async () => {
    const t = await engine({ WORKFLOW_LIMITS_MAX_FOR_EACH_ITEMS: '5' })
    const yaml = `id: foreach-limit
inputs: { items: { type: array } }
tasks:
  - { id: each, forEach: inputs.items, type: core/log.info, inputs: { message: "{{ item }}" } }
`
    const ex = await t.engine.start({ workflow: workflow(yaml), inputs: { items: [1, 2, 3, 4, 5, 6] }, trigger: { type: 'manual' } })
    const end = await t.engine.waitFor(ex.id)
    expect(end).toMatchObject({ state: 'FAILED', error: { code: 'FOR_EACH_TOO_MANY_ITEMS', details: { taskId: 'each' } } })
    const parent = (await t.engine.store.executions.taskRun(ex.id, 'each'))!
    expect(parent).toMatchObject({ state: 'FAILED', error: { code: 'FOR_EACH_TOO_MANY_ITEMS', details: { items: 6, limit: 5 } } })
    expect(parent.error!.message).toContain('limits.maxForEachItems')
    expect(await t.engine.store.executions.taskRuns(ex.id)).toHaveLength(1)
    const ok = await t.engine.start({ workflow: workflow(yaml), inputs: { items: [1, 2, 3, 4, 5] }, trigger: { type: 'manual' } })
    expect((await t.engine.waitFor(ok.id)).state).toBe('SUCCESS')
    const notList = workflow(yaml.replace('inputs: { items: { type: array } }', 'inputs: { items: { type: object } }'))
    const bad = await t.engine.start({ workflow: notList, inputs: { items: { a: 1 } }, trigger: { type: 'manual' } })
    expect(await t.engine.waitFor(bad.id)).toMatchObject({ state: 'FAILED', error: { code: 'FOR_EACH_NOT_A_LIST' } })
  }, 30_000)

  it('a failing iteration fails the task: later ones never start (FAIL_FAST), running ones finish, dependents are skipped', async () => {
    const t = await engine()
    const k = key('foreach-fail')
    const yaml = `id: foreach-fail
tasks:
  - id: each
    forEach: "[0, 1, 2, 3, 4, 5]"
    concurrency: 2
    type: test/probe.effect
    inputs: { key: ${k}, fail: "{{ item == 0 }}", sleepMs: "{{ item == 1 ? 600 : 0 }}" }
  - { id: after, needs: [each], type: core/log.info, inputs: { message: "{{ size(tasks.each.outputs) }}" } }
finally:
  - { id: report, type: test/probe.effect, inputs: { key: ${k}, value: "{{ tasks.each.outputs }}" } }
`
    const ex = await t.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
    const end = await t.engine.waitFor(ex.id)
    expect(end).toMatchObject({ state: 'FAILED', error: { code: 'PLUGIN_ERROR', details: { taskId: 'each' } } })
    expect(end.error!.message).toContain('each[0]')
    expect(await statesOf(t, ex.id)).toEqual({
      each: 'FAILED', 'each[0]': 'FAILED', 'each[1]': 'SUCCESS', 'each[2]': 'SKIPPED:FAIL_FAST', 'each[3]': 'SKIPPED:FAIL_FAST',
      'each[4]': 'SKIPPED:FAIL_FAST', 'each[5]': 'SKIPPED:FAIL_FAST', after: 'SKIPPED:DEPENDENCY_FAILED', 'finally/report': 'SUCCESS',
    })
    // The running iteration finished (its side effect is there); none after the failure started.
    expect(effects(k).map((l) => l.taskId)).toEqual(['each[1]', 'finally/report'])
    const report = (await t.engine.store.executions.taskRun(ex.id, 'finally/report'))!.output as { value: unknown[] }
    expect(report.value).toEqual([null, expect.objectContaining({ taskId: 'each[1]' }), null, null, null, null])
  }, 30_000)

  it('with allowFailure every iteration runs, the task is FAILED as allowed, dependents read the outputs, the execution is SUCCESS with ALLOWED_FAILURE', async () => {
    const t = await engine()
    const k = key('foreach-allowed')
    const yaml = `id: foreach-allowed
tasks:
  - id: each
    forEach: "[0, 1, 2, 3]"
    allowFailure: true
    type: test/probe.effect
    inputs: { key: ${k}, fail: "{{ item == 1 }}", value: "{{ item }}" }
  - { id: after, needs: [each], type: test/probe.effect, inputs: { key: ${k}, value: "{{ tasks.each.outputs.map(o, o == null ? -1 : o.value) }}" } }
`
    const ex = await t.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
    const end = await t.engine.waitFor(ex.id)
    expect(end).toMatchObject({ state: 'SUCCESS', reason: 'ALLOWED_FAILURE' })
    expect(await statesOf(t, ex.id)).toEqual({ each: 'FAILED', 'each[0]': 'SUCCESS', 'each[1]': 'FAILED', 'each[2]': 'SUCCESS', 'each[3]': 'SUCCESS', after: 'SUCCESS' })
    expect(((await t.engine.store.executions.taskRun(ex.id, 'after'))!.output as { value: unknown }).value).toEqual([0, -1, 2, 3])
    const completed = (await t.engine.store.audit.forExecution(ex.id)).find((a) => a.type === 'COMPLETED' && a.taskId === undefined)
    expect(completed?.data).toMatchObject({ allowedFailures: ['each'] })
  }, 30_000)

  it('restart after a failed iteration runs only what did not succeed: the failed iteration and the ones fail-fast skipped', async () => {
    const t = await engine()
    const k = key('foreach-restart')
    const yaml = `id: foreach-restart
tasks:
  - id: each
    forEach: "[0, 1, 2, 3]"
    type: test/probe.effect
    inputs: { key: ${k}, failUntilAttempt: "{{ item == 1 ? 2 : 0 }}", value: "{{ item }}" }
`
    const ex = await t.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
    expect((await t.engine.waitFor(ex.id)).state).toBe('FAILED')
    expect(await statesOf(t, ex.id)).toMatchObject({ 'each[0]': 'SUCCESS', 'each[1]': 'FAILED', 'each[2]': 'SKIPPED:FAIL_FAST', 'each[3]': 'SKIPPED:FAIL_FAST' })
    await t.engine.restart(ex.id)
    const end = await t.engine.waitFor(ex.id)
    expect(end.state).toBe('SUCCESS')
    expect(effects(k).map((l) => `${l.taskId}#${l.attempt}`)).toEqual(['each[0]#1', 'each[1]#2', 'each[2]#1', 'each[3]#1'])
    expect(((await t.engine.store.executions.taskRun(ex.id, 'each'))!.output as { value: number }[]).map((o) => o.value)).toEqual([0, 1, 2, 3])
  }, 30_000)

  it('is deterministic: an ETL with forEach (concurrency 3) and if:, run 20 times, gives the same outcome for every run', async () => {
    const t = await engine({ WORKFLOW_EXECUTION_MAX_CONCURRENT_WORKFLOWS: '4' })
    const yaml = `id: foreach-determinism
inputs: { text: { type: string, default: "a bb ccc dddd eeeee ffffff g hh" } }
outputs:
  long: "{{ tasks.each.outputs.filter(o, o != null).map(o, o.message) }}"
tasks:
  - { id: list, type: core/log.info, inputs: { message: "{{ inputs.text }}" } }
  - id: each
    needs: [list]
    forEach: tasks.list.output.message.split(" ")
    concurrency: 3
    if: size(item) % 2 == 0
    type: core/log.info
    inputs: { message: "{{ index }}={{ item }}" }
  - { id: join, needs: [each], if: "size(tasks.each.outputs.filter(o, o != null)) > 2", type: core/log.info, inputs: { message: done } }
  - { id: never, needs: [each], if: "size(tasks.each.outputs) == 0", type: core/log.info, inputs: { message: no } }
`
    const w = workflow(yaml)
    const ids = await Promise.all(Array.from({ length: 20 }, async () => (await t.engine.start({ workflow: w, trigger: { type: 'manual' } })).id))
    const outcomes = await Promise.all(ids.map(async (id) => {
      const end = await t.engine.waitFor(id)
      const runs = await t.engine.store.executions.taskRuns(id)
      return JSON.stringify({ state: end.state, outputs: end.outputs, runs: runs.map((r) => [r.taskId, r.state, r.reason ?? null, r.attempt, r.output ?? null]) })
    }))
    expect(new Set(outcomes).size).toBe(1)
    expect(JSON.parse(outcomes[0]!)).toMatchObject({ state: 'SUCCESS', outputs: { long: ['1=bb', '3=dddd', '5=ffffff', '7=hh'] } })
  }, 120_000)

  it('an approval per item: each iteration waits for its own decision, by its path, and the outputs are the approvers\' inputs', async () => {
    const t = await engine()
    const yaml = `id: foreach-approvals
tasks:
  - id: gate
    forEach: '["eu", "us"]'
    concurrency: 2
    approval:
      message: ship this region?
      schema: { type: object, properties: { by: { type: string } }, additionalProperties: false }
`
    const waiting = new Set<string>()
    const both = new Promise<void>((resolve) => {
      const off = t.engine.subscribe((e) => {
        if (e.type === 'task' && e.state === 'WAITING' && waiting.add(e.taskId).size === 2) (off(), resolve())
      })
    })
    const ex = await t.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
    await both
    expect([...waiting].sort()).toEqual(['gate[0]', 'gate[1]'])
    await t.engine.decide(ex.id, 'gate[1]', { verdict: 'approve', inputs: { by: 'ann' }, by: 'test' })
    await expect(t.engine.decide(ex.id, 'gate', { verdict: 'approve', inputs: {}, by: 'test' })).rejects.toMatchObject({ code: 'CONFLICT' })
    await t.engine.decide(ex.id, 'gate[0]', { verdict: 'approve', inputs: { by: 'bob' }, by: 'test' })
    expect((await t.engine.waitFor(ex.id)).state).toBe('SUCCESS')
    expect((await t.engine.store.executions.taskRun(ex.id, 'gate'))!.output).toEqual([{ by: 'bob' }, { by: 'ann' }])
    const approved = (await t.engine.store.audit.forExecution(ex.id)).filter((a) => a.type === 'APPROVED').map((a) => a.taskId)
    expect(approved).toEqual(['gate[1]', 'gate[0]'])
  }, 30_000)

  it('a cancel during a forEach cancels every unfinished iteration and kills the running ones\' processes', async () => {
    const t = await engine()
    const k = key('foreach-cancel')
    const yaml = `id: foreach-cancel
tasks:
  - id: each
    forEach: "[0, 1, 2, 3, 4]"
    concurrency: 2
    type: test/probe.effect
    inputs: { key: ${k}, sleepMs: 30000 }
`
    const bothRunning = new Promise<void>((resolve) => {
      const seen = new Set<string>()
      const off = t.engine.subscribe((e) => {
        if (e.type === 'task' && e.taskId.startsWith('each[') && e.state === 'RUNNING' && seen.add(e.taskId).size === 2) (off(), resolve())
      })
    })
    const ex = await t.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
    await bothRunning
    // The two attempts' processes are up (each recorded its start) before the cancel.
    const deadline = Date.now() + 10_000
    while (startedTmpDirs(k).length < 2 && Date.now() < deadline) await Bun.sleep(20) // poll with a deadline
    const tmpDirs = startedTmpDirs(k)
    expect(tmpDirs).toHaveLength(2)
    await t.engine.cancel(ex.id, 'stop the loop')
    const end = await t.engine.waitFor(ex.id)
    expect(end.state).toBe('CANCELLED')
    expect(await statesOf(t, ex.id)).toEqual({
      each: 'CANCELLED', 'each[0]': 'CANCELLED', 'each[1]': 'CANCELLED', 'each[2]': 'CANCELLED', 'each[3]': 'CANCELLED', 'each[4]': 'CANCELLED',
    })
    // No process of the loop is left: none has its attempt's private temp dir in its environment.
    for (const dir of tmpDirs) expect(processesWithEnv(`TMPDIR=${dir}`)).toEqual([])
    expect(effects(k)).toEqual([])
  }, 30_000)
})

describe('forEach items are data, never code', () => {
  it('an item holding {{ secrets.TOKEN }} reaches the plugin as that text; the secret an iteration names is masked', async () => {
    const secret = `tok-${Math.random().toString(36).slice(2)}-foreach`
    const dir = mkdtempSync(join(tmpdir(), 'ak-foreach-inject-'))
    const e = await createEngine({ config: testConfig(dir), secrets: { resolve: async (names) => Object.fromEntries(names.map((n) => [n, secret])) } })
    const k = key('foreach-inject')
    try {
      const payloads = ['{{ secrets.TOKEN }}', '{{ secrets.token }}', '{{ "" + secrets.TOKEN }}']
      const ex = await e.start({
        workflow: workflow(`id: foreach-inject
secrets: [TOKEN]
inputs: { list: { type: array } }
tasks:
  - id: each
    forEach: inputs.list
    if: size(item) > 0
    type: test/probe.effect
    inputs: { key: ${k}, value: ["{{ item }}", "Bearer {{ secrets.TOKEN }}"] }
`),
        inputs: { list: payloads }, trigger: { type: 'manual' },
      })
      const done = await e.waitFor(ex.id)
      expect(done.state).toBe('SUCCESS')
      const runs = await e.store.executions.taskRuns(ex.id)
      const values = runs.filter((r) => r.iteration !== undefined).map((r) => (r.output as { value: unknown }).value)
      expect(values).toEqual(payloads.map((p) => [p, 'Bearer ***']))
      const everything = JSON.stringify([runs, done, await e.store.audit.forExecution(ex.id), (await e.store.logs.list({ executionId: ex.id, limit: 1000 })).items])
      expect(everything).not.toContain(secret)
    } finally {
      await e.shutdown({ graceMs: 0 })
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)
})
