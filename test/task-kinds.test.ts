import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createEngine } from '../actors/engine.ts'
import type { Engine } from '../actors/engine-types.ts'
import { toExecutionDetail } from '../api/services/execution-dto.ts'
import { parseWorkflow, type Workflow } from '../runtime/workflow/index.ts'
import { TASK_KINDS } from '../runtime/workflow/tasks/registry.ts'
import { taskKind as echo } from './fixtures/kinds/echo.ts'
import { effectKey, testConfig } from './helpers/engine.ts'

// The seam's proof: a kind that lives only in a test fixture (test/fixtures/kinds/echo.ts), added through
// the kind registries, parsed, validated and run by the real engine (supervisor, worker thread, SQLite).
const ECHO_MODULE = resolve(import.meta.dir, 'fixtures/kinds/echo.ts')
const kinds = { ...TASK_KINDS, [echo.name]: echo.kind }

const source = (key: string) => `
id: echoing
inputs: { name: { type: string, required: true } }
tasks:
  - id: greet
    echo: { message: "hello {{ inputs.name }}", n: 3 }
  - id: use
    type: test/probe.effect
    needs: [greet]
    inputs: { key: ${key}, value: "{{ tasks.greet.output.message }}" }
`

function parsed(yaml: string): Workflow {
  const r = parseWorkflow(yaml, {}, { kinds })
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  return r.workflow
}

describe('a task kind added through the registries alone', () => {
  let dir: string
  let engine: Engine
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ak-kinds-'))
    engine = await createEngine({ config: testConfig(dir), taskKinds: [ECHO_MODULE] })
  })
  afterAll(async () => {
    await engine.shutdown({ graceMs: 0 })
    rmSync(dir, { recursive: true, force: true })
  })

  it('is parsed with its own fields and checked like any task (templates, unknown fields, one kind per task)', () => {
    const wf = parsed(source('k'))
    expect(wf.tasks[0] as unknown).toEqual({ id: 'greet', kind: 'echo', needs: [], echo: { message: 'hello {{ inputs.name }}', n: 3 } })
    const bad = parseWorkflow(`id: x
tasks:
  - { id: a, echo: { m: "{{ inputs.nope }}" }, inputs: {} }
  - { id: b, type: core/log.info, echo: {} }
`, {}, { kinds })
    expect(bad.ok).toBe(false)
    if (bad.ok) return
    expect(bad.issues.map((i) => [i.path, i.code])).toEqual([
      ['tasks[0].echo.m', 'UNDECLARED_INPUT'],
      ['tasks[0].inputs', 'UNKNOWN_FIELD'],
      ['tasks[1].echo', 'CONFLICTING_TASK_KINDS'],
    ])
    // Without the kind in the set, `echo:` is just an unknown field of a task that lacks its `type`.
    const without = parseWorkflow('id: x\ntasks:\n  - { id: a, echo: {} }\n')
    expect(without.ok ? [] : without.issues.map((i) => [i.path, i.code, i.message])).toEqual([
      ['tasks[0].type', 'REQUIRED', 'a task needs a kind: "type" (plugin) or "wait" (wait) or "approval" (approval) or "subflow" (subflow)'],
      ['tasks[0].echo', 'UNKNOWN_FIELD', 'unknown field "echo"'],
    ])
    // With it, a task naming no kind is told every key that would name one.
    const none = parseWorkflow('id: x\ntasks:\n  - { id: a }\n', {}, { kinds })
    expect(none.ok ? [] : none.issues.map((i) => [i.path, i.code, i.message])).toEqual([
      ['tasks[0].type', 'REQUIRED', 'a task needs a kind: "type" (plugin) or "wait" (wait) or "approval" (approval) or "subflow" (subflow) or "echo" (echo)'],
    ])
  })

  it('runs through the real engine: finishes at once in the worker, feeds a plugin task, and is recorded like any run', async () => {
    const key = effectKey('echo-kind')
    const ex = await engine.start({ workflow: parsed(source(key)), inputs: { name: 'ada' }, trigger: { type: 'manual' } })
    const done = await engine.waitFor(ex.id)
    expect(done.state).toBe('SUCCESS')
    const snap = (await engine.snapshot(ex.id))!
    const [greet, use] = snap.taskRuns
    expect(greet).toMatchObject({ taskId: 'greet', kind: 'echo', state: 'SUCCESS', attempt: 1, output: { message: 'hello ada', n: 3 } })
    expect(greet!.attempts).toEqual([expect.objectContaining({ attempt: 1, state: 'SUCCESS' })])
    expect(greet!.attempts[0]!.runner).toBeUndefined() // no process ran it
    expect(use).toMatchObject({ taskId: 'use', kind: 'plugin', state: 'SUCCESS', output: { value: 'hello ada' } })
    const audit = (await engine.store.audit.forExecution(ex.id)).filter((a) => a.taskId === 'greet').map((a) => a.type)
    expect(audit).toEqual(['STARTED', 'COMPLETED'])
    const detail = toExecutionDetail(snap)
    expect(detail.tasks.map((t) => [t.taskId, t.kind, t.type])).toEqual([['greet', 'echo', 'echo'], ['use', 'plugin', 'test/probe.effect']])
  })

  it('fails a task whose template cannot be rendered (TEMPLATE_ERROR), and skips what needs it', async () => {
    const wf = parsed(`id: echo-missing
tasks:
  - { id: a, echo: { m: "{{ secrets.TOKEN }}" } }
  - { id: b, type: core/log.info, needs: [a], inputs: { message: x } }
secrets: [TOKEN]
`)
    const done = await engine.waitFor((await engine.start({ workflow: wf, trigger: { type: 'manual' } })).id)
    expect(done).toMatchObject({ state: 'FAILED', error: { code: 'TEMPLATE_ERROR' } })
    expect((await engine.snapshot(done.id))!.taskRuns.map((r) => [r.taskId, r.state])).toEqual([['a', 'FAILED'], ['b', 'SKIPPED']])
  })
})
