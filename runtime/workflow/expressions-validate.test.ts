/** Validation of CEL in templates, `if:` and `outputs:`: the same codes as v0.1's templates, at the same paths, with positions. */
import { describe, expect, it } from 'bun:test'
import type { Issue } from './model.ts'
import { parseWorkflow } from './parse.ts'

function only(yaml: string): Issue {
  const r = parseWorkflow(yaml)
  if (r.ok) throw new Error('expected invalid')
  expect(r.issues).toHaveLength(1)
  return r.issues[0] as Issue
}
const ok = (yaml: string) => {
  const r = parseWorkflow(yaml)
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  return r.workflow
}
const head = 'id: w\ninputs: { n: { type: number }, go: { type: boolean } }\nsecrets: [TOKEN]\n'
const wf = (tasks: string, outputs = '') => `${head}${outputs}tasks:\n  - { id: a, type: core/echo.run, inputs: { t: "{{ secrets.TOKEN }}" } }\n${tasks}`

describe('CEL templates at validate', () => {
  it('checks the roots a CEL expression reads, not only plain paths', () => {
    expect(only(wf('  - { id: b, type: core/echo.run, needs: [a], inputs: { x: "{{ size(inputs.nope) > 0 }}" } }\n')))
      .toMatchObject({ path: 'tasks[1].inputs.x', code: 'UNDECLARED_INPUT', line: 6 })
    expect(only(wf('  - { id: b, type: core/echo.run, inputs: { x: "{{ tasks.a.output.items.map(i, i.n) }}" } }\n')))
      .toMatchObject({ path: 'tasks[1].inputs.x', code: 'TASK_REF_NOT_UPSTREAM' })
    expect(only(wf('  - { id: b, type: core/echo.run, inputs: { x: "{{ tasks.ghost.state }}" } }\n')))
      .toMatchObject({ code: 'UNKNOWN_TASK_REF' })
    expect(only(wf('  - { id: b, type: core/echo.run, inputs: { x: "{{ \'Bearer \' + secrets.OTHER }}" } }\n')))
      .toMatchObject({ code: 'UNDECLARED_SECRET' })
  })

  it('reports syntax and type errors as INVALID_TEMPLATE', () => {
    expect(only(wf('  - { id: b, type: core/echo.run, inputs: { x: "{{ inputs.n + }}" } }\n'))).toMatchObject({ code: 'INVALID_TEMPLATE', path: 'tasks[1].inputs.x' })
    expect(only(wf('  - { id: b, type: core/echo.run, inputs: { x: "{{ secrets.TOKEN + 1 }}" } }\n'))).toMatchObject({ code: 'INVALID_TEMPLATE' })
    expect(only(wf('  - { id: b, type: core/echo.run, inputs: { x: "{{ size(tasks.fetch-data.output) }}" } }\n')).message).toContain('tasks["fetch-data"]')
  })
})

describe('if: at validate', () => {
  it('keeps the expression of both forms, and of a YAML boolean', () => {
    const w = ok(wf('  - { id: b, type: core/echo.run, needs: [a], if: "tasks.a.state == \'SUCCESS\'" }\n  - { id: c, type: core/echo.run, if: "{{ inputs.go }}" }\n  - { id: d, type: core/echo.run, if: false }\n'))
    expect(w.tasks.map((t) => t.if)).toEqual([undefined, "tasks.a.state == 'SUCCESS'", 'inputs.go', 'false'])
  })

  it('checks its roots at tasks[i].if with a position', () => {
    expect(only(wf('  - { id: b, type: core/echo.run, if: inputs.nope }\n'))).toMatchObject({ path: 'tasks[1].if', code: 'UNDECLARED_INPUT', line: 6 })
    expect(only(wf('  - { id: b, type: core/echo.run, if: "size(tasks.a.output.items) > 0" }\n'))).toMatchObject({ path: 'tasks[1].if', code: 'TASK_REF_NOT_UPSTREAM' })
  })

  it('refuses secrets, a non-boolean type, text around a template, and an empty condition', () => {
    expect(only(wf('  - { id: b, type: core/echo.run, if: "secrets.TOKEN == \'x\'" }\n')).message).toContain('cannot be read here')
    expect(only(wf('  - { id: b, type: core/echo.run, if: "inputs.n + 1" }\n')).message).toContain('must be a boolean')
    expect(only(wf('  - { id: b, type: core/echo.run, if: "{{ inputs.go }} and more" }\n')).message).toContain('one expression')
    expect(only(wf('  - { id: b, type: core/echo.run, if: "" }\n')).code).toBe('INVALID_TEMPLATE')
  })

  it('holds a bare if: to the template length bound', () => {
    const r = parseWorkflow(wf(`  - { id: b, type: core/echo.run, if: "${'true && '.repeat(200)}true" }\n`))
    expect(r.ok ? [] : r.issues.map((i) => i.code)).toEqual(['TEMPLATE_TOO_LONG'])
  })
})

describe('outputs: at validate', () => {
  it('accepts templates over any task, and refuses unknown tasks, secrets and bad names', () => {
    expect(ok(wf('', 'outputs: { n: "{{ size(tasks.a.output) }}", lit: 3 }\n')).outputs).toEqual({ n: '{{ size(tasks.a.output) }}', lit: 3 })
    expect(only(wf('', 'outputs: { n: "{{ tasks.ghost.output }}" }\n'))).toMatchObject({ path: 'outputs.n', code: 'UNKNOWN_TASK_REF', line: 4 })
    expect(only(wf('', 'outputs: { n: "{{ secrets.TOKEN }}" }\n'))).toMatchObject({ path: 'outputs.n', code: 'INVALID_TEMPLATE' })
    expect(only(wf('', 'outputs: { "bad name": 1 }\n'))).toMatchObject({ code: 'INVALID_VALUE' })
  })
})
