/**
 * Expressions, `if:` and workflow outputs on the real engine: a real SQLite file, real probe plugin processes.
 * Branches on an upstream output, the skip rule, CEL in inputs and outputs, the bounds, and second-order template
 * injection: values from outside (inputs, plugin outputs) are never evaluated again, and an allowlisted secret
 * cannot be pulled in through them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEngine } from '../actors/engine.ts'
import type { Engine } from '../actors/engine-types.ts'
import { EFFECTS_DIR, effectKey, effects, testConfig, workflow } from './helpers/engine.ts'

const SECRET = `tok-${Math.random().toString(36).slice(2)}-expressions`
let dir: string
let engine: Engine
const keys: string[] = []
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ak-cf-expr-'))
  engine = await createEngine({ config: testConfig(dir), secrets: { resolve: async (names) => Object.fromEntries(names.map((n) => [n, SECRET])) } })
})
afterAll(async () => {
  await engine?.shutdown({ graceMs: 0 })
  rmSync(dir, { recursive: true, force: true })
  for (const k of keys) for (const f of [k, `${k}.started`]) rmSync(join(EFFECTS_DIR, f), { force: true })
})

const key = (name: string) => {
  const k = effectKey(name)
  keys.push(k)
  return k
}
const run = async (yaml: string, inputs: Record<string, unknown> = {}) => {
  const ex = await engine.start({ workflow: workflow(yaml), inputs, trigger: { type: 'manual' } })
  const done = await engine.waitFor(ex.id)
  return { done, snap: (await engine.snapshot(ex.id))! }
}
const byTask = (snap: { taskRuns: { taskId: string; state: string; reason?: string; output?: unknown }[] }) =>
  Object.fromEntries(snap.taskRuns.map((r) => [r.taskId, r.reason ? `${r.state} ${r.reason}` : r.state]))
const outputOf = (snap: { taskRuns: { taskId: string; output?: unknown }[] }, id: string) =>
  snap.taskRuns.find((r) => r.taskId === id)?.output as { value?: unknown } | undefined

describe('if: on the real engine', () => {
  it('branches on an upstream output; condition-skipped tasks and their plain dependents never run; outputs are rendered', async () => {
    const k = key('branch')
    const { done, snap } = await run(`
id: branch
outputs:
  count: "{{ size(tasks.list.output.value) }}"
  doubled: "{{ tasks.list.output.value.map(x, x * 2) }}"
  summary: "processed {{ tasks.process.output.value }} of {{ tasks.list.output.value }}"
  emptyRan: "{{ tasks.empty.state }}"
tasks:
  - { id: list, type: test/probe.effect, inputs: { key: ${k}, value: [1, 2, 3] } }
  - id: process
    type: test/probe.effect
    needs: [list]
    if: size(tasks.list.output.value) > 0
    inputs: { key: ${k}, value: "{{ tasks.list.output.value.filter(x, x >= 2).size() }}" }
  - id: empty
    type: test/probe.effect
    needs: [list]
    if: "{{ size(tasks.list.output.value) == 0 }}"
    inputs: { key: ${k} }
  - { id: after-empty, type: test/probe.effect, needs: [empty], inputs: { key: ${k} } }
  - id: report
    type: test/probe.effect
    needs: [empty]
    if: tasks.empty.state == "SKIPPED"
    inputs: { key: ${k}, value: "{{ tasks.empty.state }}" }
`)
    expect({ state: done.state, error: done.error }).toEqual({ state: 'SUCCESS', error: undefined })
    expect(byTask(snap)).toEqual({
      list: 'SUCCESS', process: 'SUCCESS', empty: 'SKIPPED CONDITION_FALSE', 'after-empty': 'SKIPPED DEPENDENCY_SKIPPED', report: 'SUCCESS',
    })
    expect(effects(k).map((e) => e.taskId).sort()).toEqual(['list', 'process', 'report'])
    expect(outputOf(snap, 'process')!.value).toBe(2)
    expect(outputOf(snap, 'report')!.value).toBe('SKIPPED')
    expect(done.outputs).toEqual({ count: 3, doubled: [2, 4, 6], summary: 'processed 2 of [1,2,3]', emptyRan: 'SKIPPED' })
    expect((await engine.store.executions.get(done.id))!.outputs).toEqual(done.outputs)
  })

  it('commits the skip before anything behind it starts (audit order)', async () => {
    const k = key('order')
    const { done, snap } = await run(`
id: order
tasks:
  - { id: gate, type: test/probe.effect, if: "false", inputs: { key: ${k} } }
  - { id: after, type: test/probe.effect, needs: [gate], if: "true", inputs: { key: ${k} } }
`)
    expect(done.state).toBe('SUCCESS')
    expect(byTask(snap)).toEqual({ gate: 'SKIPPED CONDITION_FALSE', after: 'SUCCESS' })
    const audit = await engine.store.audit.forExecution(done.id)
    const skipped = audit.find((a) => a.taskId === 'gate' && (a.data as { to?: string }).to === 'SKIPPED')!
    const started = audit.find((a) => a.taskId === 'after' && (a.data as { to?: string }).to === 'RUNNING')!
    expect(skipped.id).toBeLessThan(started.id)
  })

  it('fails a task whose condition is not a boolean (CONDITION_NOT_BOOLEAN), without starting it', async () => {
    const k = key('notbool')
    const { done, snap } = await run(`
id: notbool
inputs: { mode: { type: string, default: "yes" } }
tasks:
  - { id: a, type: test/probe.effect, if: inputs.mode, inputs: { key: ${k} } }
`)
    expect(done.state).toBe('FAILED')
    expect(done.error).toMatchObject({ code: 'CONDITION_NOT_BOOLEAN', details: { taskId: 'a' } })
    expect(snap.taskRuns[0]).toMatchObject({ state: 'FAILED', attempt: 0, error: { code: 'CONDITION_NOT_BOOLEAN' } })
    expect(effects(k)).toEqual([])
  })
})

describe('expressions on the real engine', () => {
  it('stops an expression past its cost bound: the task fails with EXPRESSION_LIMIT and no plugin runs', async () => {
    const k = key('cost')
    const { done, snap } = await run(`
id: cost
inputs: { list: { type: array } }
tasks:
  - { id: a, type: test/probe.effect, inputs: { key: ${k}, value: "{{ inputs.list.map(x, inputs.list.map(y, x + y)).size() }}" } }
`, { list: Array.from({ length: 2_000 }, (_, i) => i) })
    expect(done.state).toBe('FAILED')
    expect(snap.taskRuns[0]!.error).toMatchObject({ code: 'EXPRESSION_LIMIT' })
    expect(effects(k)).toEqual([])
  })

  it('fails the execution when an output cannot be rendered, naming the output', async () => {
    const k = key('badout')
    const { done } = await run(`
id: badout
outputs: { x: "{{ tasks.skipped.output.value }}" }
tasks:
  - { id: skipped, type: test/probe.effect, if: "false", inputs: { key: ${k} } }
`)
    expect(done.state).toBe('FAILED')
    expect(done.error).toMatchObject({ code: 'TEMPLATE_ERROR', details: { output: 'x' } })
    expect(done.error!.message).toContain('output "x"')
  })
})

describe('values from outside are data, never code', () => {
  it('an input or a plugin output holding {{ secrets.TOKEN }} reaches the next plugin as that text, and the secret stays masked', async () => {
    const k = key('inject')
    const payloads = ['{{ secrets.TOKEN }}', '{{ secrets.token }}', 'secrets.TOKEN', '{{ "" + secrets.TOKEN }}']
    const { done, snap } = await run(`
id: inject
secrets: [TOKEN]
inputs: { msg: { type: string }, list: { type: array } }
outputs:
  echoed: "{{ tasks.second.output.value }}"
  listed: "{{ tasks.list.output.value }}"
tasks:
  - { id: first, type: test/probe.effect, inputs: { key: ${k}, value: "{{ inputs.msg }}" } }
  - { id: second, type: test/probe.effect, needs: [first], inputs: { key: ${k}, value: "{{ tasks.first.output.value }}" } }
  - { id: list, type: test/probe.effect, inputs: { key: ${k}, value: "{{ inputs.list.map(p, p + '!') }}" } }
  - { id: legit, type: test/probe.effect, inputs: { key: ${k}, value: "Bearer {{ secrets.TOKEN }}" } }
`, { msg: payloads[0], list: payloads })
    expect(done.state).toBe('SUCCESS')
    expect(outputOf(snap, 'first')!.value).toBe('{{ secrets.TOKEN }}')
    expect(outputOf(snap, 'second')!.value).toBe('{{ secrets.TOKEN }}')
    expect(outputOf(snap, 'list')!.value).toEqual(payloads.map((p) => `${p}!`))
    expect(outputOf(snap, 'legit')!.value).toBe('Bearer ***')
    expect(done.outputs).toEqual({ echoed: '{{ secrets.TOKEN }}', listed: payloads.map((p) => `${p}!`) })
    const everything = JSON.stringify([snap, done, await engine.store.audit.forExecution(done.id), (await engine.store.logs.list({ executionId: done.id, limit: 1000 })).items])
    expect(everything).not.toContain(SECRET)
  })
})
