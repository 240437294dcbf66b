/** The workflow fields of issue 13 items 6, 10 and 11: onFailure/finally lists, allowFailure, concurrency, labels. */
import { describe, expect, it } from 'bun:test'
import type { Issue } from './model.ts'
import { parseWorkflow } from './parse.ts'

function issues(yaml: string): Issue[] {
  const r = parseWorkflow(yaml)
  if (r.ok) throw new Error('expected invalid')
  return r.issues
}
const only = (yaml: string): Issue => {
  const list = issues(yaml)
  expect(list).toHaveLength(1)
  return list[0]!
}
const t = (id: string, extra = '') => `  - id: ${id}\n    type: core/echo.run\n${extra}`

describe('onFailure and finally', () => {
  it('parses both lists, allowFailure and the defaults', () => {
    const r = parseWorkflow(`id: w\ntasks:\n${t('a', '    allowFailure: true\n')}onFailure:\n${t('alert', '    inputs: { m: "{{ execution.error.message }}" }\n')}finally:\n${t('clean', '    inputs: { v: "{{ tasks.a.output.x }}" }\n')}${t('report', '    needs: [clean]\n')}`)
    if (!r.ok) throw new Error(JSON.stringify(r.issues))
    expect(r.workflow.tasks[0]).toMatchObject({ id: 'a', allowFailure: true })
    expect(r.workflow.onFailure?.map((x) => x.id)).toEqual(['alert'])
    expect(r.workflow.finally?.map((x) => [x.id, x.needs])).toEqual([['clean', []], ['report', ['clean']]])
  })

  it('ids are unique across the lists: the second use is DUPLICATE_TASK_ID, at its own list', () => {
    expect(only(`id: w\ntasks:\n${t('a')}finally:\n${t('a')}`)).toMatchObject({ path: 'finally[0].id', code: 'DUPLICATE_TASK_ID', message: expect.stringContaining('tasks[0]') })
  })

  it('a need stays within its list: NEED_OUTSIDE_LIST names the other list; an unknown one is UNKNOWN_NEED', () => {
    expect(only(`id: w\ntasks:\n${t('a')}finally:\n${t('clean', '    needs: [a]\n')}`)).toMatchObject({ path: 'finally[0].needs[0]', code: 'NEED_OUTSIDE_LIST' })
    expect(only(`id: w\ntasks:\n${t('a', '    needs: [clean]\n')}finally:\n${t('clean')}`)).toMatchObject({ path: 'tasks[0].needs[0]', code: 'NEED_OUTSIDE_LIST' })
    expect(only(`id: w\ntasks:\n${t('a')}onFailure:\n${t('x', '    needs: [nope]\n')}`)).toMatchObject({ path: 'onFailure[0].needs[0]', code: 'UNKNOWN_NEED' })
  })

  it('finds a cycle inside a later list', () => {
    expect(only(`id: w\ntasks:\n${t('a')}finally:\n${t('x', '    needs: [y]\n')}${t('y', '    needs: [x]\n')}`)).toMatchObject({ code: 'CYCLE' })
  })

  it('keeps the id "finally" for the run paths (RESERVED_TASK_ID)', () => {
    expect(only(`id: w\ntasks:\n${t('finally')}`)).toMatchObject({ path: 'tasks[0].id', code: 'RESERVED_TASK_ID' })
  })

  it('execution.error only in onFailure and finally; a main task cannot read a later list\'s output', () => {
    expect(only(`id: w\ntasks:\n${t('a', '    inputs: { m: "{{ execution.error }}" }\n')}`)).toMatchObject({ path: 'tasks[0].inputs.m', code: 'INVALID_TEMPLATE' })
    expect(only(`id: w\ntasks:\n${t('a', '    inputs: { m: "{{ tasks.clean.output }}" }\n')}finally:\n${t('clean')}`)).toMatchObject({ code: 'TASK_REF_NOT_UPSTREAM' })
    // finally runs after onFailure: it may read its outputs (present if it ran and succeeded).
    expect(parseWorkflow(`id: w\ntasks:\n${t('a')}onFailure:\n${t('alert')}finally:\n${t('clean', '    inputs: { m: "{{ tasks.alert.output }}" }\n')}`).ok).toBe(true)
  })

  it('allowFailure is a boolean', () => {
    expect(only(`id: w\ntasks:\n${t('a', '    allowFailure: yes please\n')}`)).toMatchObject({ path: 'tasks[0].allowFailure', code: 'INVALID_TYPE' })
  })
})

describe('concurrency', () => {
  it('parses limit and behavior (default queue)', () => {
    const r = parseWorkflow(`id: w\nconcurrency: { limit: 2 }\ntasks:\n${t('a')}`)
    expect(r.ok && r.workflow.concurrency).toEqual({ limit: 2, behavior: 'queue' })
    const c = parseWorkflow(`id: w\nconcurrency: { limit: 1, behavior: cancel-oldest }\ntasks:\n${t('a')}`)
    expect(c.ok && c.workflow.concurrency).toEqual({ limit: 1, behavior: 'cancel-oldest' })
  })

  it('refuses a limit below 1, an unknown behavior and an unknown field', () => {
    expect(only(`id: w\nconcurrency: { limit: 0 }\ntasks:\n${t('a')}`)).toMatchObject({ path: 'concurrency.limit', code: 'INVALID_VALUE' })
    expect(only(`id: w\nconcurrency: { limit: 1, behavior: fail }\ntasks:\n${t('a')}`)).toMatchObject({ path: 'concurrency.behavior', code: 'INVALID_VALUE' })
    expect(only(`id: w\nconcurrency: { limit: 1, max: 2 }\ntasks:\n${t('a')}`)).toMatchObject({ path: 'concurrency.max', code: 'UNKNOWN_FIELD' })
    expect(only(`id: w\nconcurrency: 3\ntasks:\n${t('a')}`)).toMatchObject({ path: 'concurrency', code: 'INVALID_TYPE' })
  })
})

describe('labels', () => {
  it('parses a map of strings', () => {
    const r = parseWorkflow(`id: w\nlabels: { team: data, tier: "1", app.kubernetes.io/name: etl, empty: "" }\ntasks:\n${t('a')}`)
    expect(r.ok && r.workflow.labels).toEqual({ team: 'data', tier: '1', 'app.kubernetes.io/name': 'etl', empty: '' })
  })

  it('refuses bad keys, non-string values, commas and control characters, each at its label, with line and column', () => {
    expect(only(`id: w\nlabels: { "-bad": x }\ntasks:\n${t('a')}`)).toMatchObject({ path: 'labels["-bad"]', code: 'INVALID_LABEL', line: 2 })
    expect(only(`id: w\nlabels: { tier: 1 }\ntasks:\n${t('a')}`)).toMatchObject({ path: 'labels.tier', code: 'INVALID_LABEL', message: expect.stringContaining('string') })
    expect(only(`id: w\nlabels: { a: "x,y" }\ntasks:\n${t('a')}`)).toMatchObject({ path: 'labels.a', code: 'INVALID_LABEL' })
    expect(only(`id: w\nlabels: { a: "x\\u0007" }\ntasks:\n${t('a')}`)).toMatchObject({ path: 'labels.a', code: 'INVALID_LABEL' })
    expect(only(`id: w\nlabels: { a: ${'v'.repeat(256)} }\ntasks:\n${t('a')}`)).toMatchObject({ path: 'labels.a', code: 'INVALID_LABEL' })
    expect(only(`id: w\nlabels: [team]\ntasks:\n${t('a')}`)).toMatchObject({ path: 'labels', code: 'INVALID_TYPE' })
  })

  it('refuses more than 20 labels (TOO_MANY_LABELS)', () => {
    const many = Array.from({ length: 21 }, (_, i) => `l${i}: v`).join(', ')
    expect(only(`id: w\nlabels: { ${many} }\ntasks:\n${t('a')}`)).toMatchObject({ path: 'labels', code: 'TOO_MANY_LABELS' })
  })
})
