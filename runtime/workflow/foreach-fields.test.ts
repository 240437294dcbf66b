/** The `forEach:` and `concurrency:` fields of a task (issue 13 item 3): parsing, scopes and checks at validate time. */
import { describe, expect, it } from 'bun:test'
import type { Issue } from './model.ts'
import { parseWorkflow } from './parse.ts'

function issues(yaml: string): Issue[] {
  const r = parseWorkflow(yaml)
  if (r.ok) throw new Error('expected invalid')
  return r.issues
}
const head = 'id: w\ninputs: { xs: { type: array, default: [1, 2] } }\ntasks:\n'
const each = (extra: string, inputs = '{ message: "{{ item }}" }') => `  - id: each\n    type: core/log.info\n${extra}    inputs: ${inputs}\n`

describe('forEach fields', () => {
  it('parses forEach bare or as one template, concurrency, and item/index in inputs and if', () => {
    for (const src of ['inputs.xs', '"{{ inputs.xs }}"', '"{{ inputs.xs.map(x, x * 2) }}"']) {
      const r = parseWorkflow(`${head}${each(`    forEach: ${src}\n    concurrency: 3\n    if: index > 0 && item != 2\n`, '{ message: "{{ item }} at {{ index }}" }')}`)
      if (!r.ok) throw new Error(JSON.stringify(r.issues))
      expect(r.workflow.tasks[0]).toMatchObject({ forEach: expect.stringContaining('inputs.xs'), concurrency: 3, if: 'index > 0 && item != 2' })
    }
  })

  it('a dependent reads tasks.<id>.outputs; .output of a forEach task and .outputs of another are refused', () => {
    const after = (tpl: string) => `  - id: after\n    needs: [each]\n    type: core/log.info\n    inputs: { message: "${tpl}" }\n`
    expect(parseWorkflow(`${head}${each('    forEach: inputs.xs\n')}${after('{{ size(tasks.each.outputs) }}')}`).ok).toBe(true)
    expect(issues(`${head}${each('    forEach: inputs.xs\n')}${after('{{ tasks.each.output }}')}`)).toEqual([
      expect.objectContaining({ path: 'tasks[1].inputs.message', code: 'INVALID_TEMPLATE', message: expect.stringContaining('tasks.each.outputs') }),
    ])
    expect(issues(`${head}${each('', '{ message: hi }')}${after('{{ tasks.each.outputs }}')}`)).toEqual([
      expect.objectContaining({ path: 'tasks[1].inputs.message', code: 'INVALID_TEMPLATE', message: expect.stringContaining('has no forEach') }),
    ])
  })

  it('refuses item outside a forEach, a non-list forEach, item inside forEach itself, secrets in it, and text around it', () => {
    expect(issues(`${head}${each('')}`)).toEqual([expect.objectContaining({ path: 'tasks[0].inputs.message', code: 'INVALID_TEMPLATE', message: expect.stringContaining('only in scope inside a forEach') })])
    expect(issues(`${head}${each('    forEach: size(inputs.xs)\n')}`)).toEqual([expect.objectContaining({ path: 'tasks[0].forEach', code: 'INVALID_TEMPLATE', message: expect.stringContaining('must be a list') })])
    expect(issues(`${head}${each('    forEach: "[item]"\n')}`)[0]).toMatchObject({ path: 'tasks[0].forEach', code: 'INVALID_TEMPLATE' })
    expect(issues(`id: w\nsecrets: [T]\ntasks:\n${each('    forEach: "[secrets.T]"\n')}`)[0]).toMatchObject({ path: 'tasks[0].forEach', code: 'INVALID_TEMPLATE', message: expect.stringContaining('secrets') })
    expect(issues(`${head}${each('    forEach: "x {{ inputs.xs }}"\n')}`)[0]).toMatchObject({ path: 'tasks[0].forEach', code: 'INVALID_TEMPLATE', message: expect.stringContaining('one expression') })
  })

  it('any kind may loop: a wait whose until is the item, an approval per item', () => {
    const r = parseWorkflow(`id: w\ntasks:\n  - id: w\n    forEach: '["2026-01-01T00:00:00Z"]'\n    wait: { until: "{{ item }}" }\n  - id: a\n    forEach: '["x"]'\n    approval: { message: hi }\n`)
    if (!r.ok) throw new Error(JSON.stringify(r.issues))
    expect(r.workflow.tasks.map((t) => [t.kind, t.forEach])).toEqual([['wait', '["2026-01-01T00:00:00Z"]'], ['approval', '["x"]']])
  })

  it('a forEach list must name tasks upstream; concurrency needs a forEach and a bound', () => {
    const list = '  - { id: list, type: core/log.info, inputs: { message: x } }\n'
    expect(issues(`${head}${list}${each('    forEach: tasks.list.output.items\n')}`)[0]).toMatchObject({ path: 'tasks[1].forEach', code: 'TASK_REF_NOT_UPSTREAM' })
    expect(issues(`${head}${each('    concurrency: 2\n', '{ message: x }')}`)).toEqual([expect.objectContaining({ path: 'tasks[0].concurrency', code: 'INVALID_VALUE', message: expect.stringContaining('no forEach') })])
    expect(issues(`${head}${each('    forEach: inputs.xs\n    concurrency: 0\n')}`)).toEqual([expect.objectContaining({ path: 'tasks[0].concurrency', code: 'INVALID_VALUE' })])
    expect(issues(`${head}${each('    forEach: inputs.xs\n    concurrency: 1.5\n')}`)[0]).toMatchObject({ path: 'tasks[0].concurrency' })
  })
})
