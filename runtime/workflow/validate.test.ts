/** Semantic validation: ids, needs graph, durations, cron, secrets, templates and input defaults. */
import { describe, expect, it } from 'bun:test'
import type { Issue } from './model.ts'
import { parseWorkflow } from './parse.ts'

function only(yaml: string): Issue {
  const r = parseWorkflow(yaml)
  if (r.ok) throw new Error('expected invalid')
  expect(r.issues).toHaveLength(1)
  return r.issues[0] as Issue
}

const t = (id: string, extra = '') => `  - id: ${id}\n    type: core/echo.run\n${extra}`
const wf = (tasks: string, head = '') => `id: w\n${head}tasks:\n${tasks}`

describe('workflow semantics', () => {
  it('rejects an invalid workflow id', () => {
    expect(only(`id: My_Flow\ntasks:\n${t('a')}`)).toMatchObject({ path: 'id', code: 'INVALID_ID', line: 1, column: 5 })
  })

  it('rejects an invalid task id', () => {
    expect(only(wf(t('-a')))).toMatchObject({ path: 'tasks[0].id', code: 'INVALID_ID' })
  })

  it('rejects duplicate task ids at the second one', () => {
    expect(only(wf(t('a') + t('a')))).toMatchObject({ path: 'tasks[1].id', code: 'DUPLICATE_TASK_ID', line: 5, column: 9 })
  })

  it('rejects a malformed task type', () => {
    expect(only(wf('  - id: a\n    type: Core/Echo.Run\n'))).toMatchObject({ path: 'tasks[0].type', code: 'INVALID_TASK_TYPE' })
  })

  it('rejects an unknown need and suggests a close id', () => {
    const i = only(wf(t('fetch-data') + t('b', '    needs: [fetch_data]\n')))
    expect(i).toMatchObject({ path: 'tasks[1].needs[0]', code: 'UNKNOWN_NEED' })
    expect(i.message).toContain('did you mean "fetch-data"')
  })

  it('rejects an unknown need given as a string', () => {
    expect(only(wf(t('a', '    needs: b\n')))).toMatchObject({ path: 'tasks[0].needs', code: 'UNKNOWN_NEED' })
  })

  it('rejects a task that needs itself', () => {
    expect(only(wf(t('a', '    needs: [a]\n')))).toMatchObject({ path: 'tasks[0].needs[0]', code: 'SELF_NEED' })
  })

  it('rejects a cycle and shows its path', () => {
    const i = only(wf(t('a', '    needs: [c]\n') + t('b', '    needs: [a]\n') + t('c', '    needs: [b]\n')))
    expect(i).toMatchObject({ path: 'tasks[0].needs[0]', code: 'CYCLE' })
    expect(i.message).toBe('dependency cycle: a → c → b → a')
  })

  it('rejects a malformed task timeout', () => {
    expect(only(wf(t('a', '    timeout: 30 seconds\n')))).toMatchObject({ path: 'tasks[0].timeout', code: 'INVALID_DURATION' })
  })

  it('rejects a zero workflow timeout', () => {
    expect(only(wf(t('a'), 'timeout: 0s\n'))).toMatchObject({ path: 'timeout', code: 'INVALID_DURATION' })
  })

  it('rejects a maxDelay shorter than delay', () => {
    expect(only(wf(t('a', '    retry: {max: 1, backoff: {delay: 10s, maxDelay: 1s}}\n'))))
      .toMatchObject({ path: 'tasks[0].retry.backoff.maxDelay', code: 'INVALID_DURATION' })
  })

  it('rejects an invalid cron expression', () => {
    expect(only(wf(t('a'), 'triggers:\n  - type: cron\n    cron: "61 * * * *"\n')))
      .toMatchObject({ path: 'triggers[0].cron', code: 'INVALID_CRON', line: 4, column: 11 })
  })

  it('rejects a cron expression with too few fields', () => {
    expect(only(wf(t('a'), 'trigger: {type: cron, cron: "* *"}\n'))).toMatchObject({ path: 'trigger.cron', code: 'INVALID_CRON' })
  })

  it('rejects an unknown time zone', () => {
    expect(only(wf(t('a'), 'trigger: {type: cron, cron: "@daily", timezone: Europe/Atlantis}\n')))
      .toMatchObject({ path: 'trigger.timezone', code: 'INVALID_TIMEZONE' })
  })

  it('rejects secrets given as a map of values', () => {
    expect(only(wf(t('a'), 'secrets:\n  API_TOKEN: hunter2\n'))).toMatchObject({ path: 'secrets', code: 'SECRET_VALUE_NOT_NAME', line: 3, column: 3 })
  })

  it('rejects secrets given as a list of objects', () => {
    expect(only(wf(t('a'), 'secrets:\n  - {name: API_TOKEN, value: x}\n'))).toMatchObject({ path: 'secrets[0]', code: 'SECRET_VALUE_NOT_NAME' })
  })

  it('rejects secret names with odd characters', () => {
    expect(only(wf(t('a'), 'secrets: [api-token]\n'))).toMatchObject({ path: 'secrets[0]', code: 'INVALID_SECRET_NAME' })
  })

  it('rejects an input default of the wrong type', () => {
    expect(only(wf(t('a'), 'inputs: [{name: n, type: number, default: "3"}]\n')))
      .toMatchObject({ path: 'inputs[0].default', code: 'INVALID_INPUT_DEFAULT' })
  })

  it('rejects an object default for an array input', () => {
    expect(only(wf(t('a'), 'inputs:\n  xs: {type: array, default: {a: 1}}\n'))).toMatchObject({ path: 'inputs.xs.default', code: 'INVALID_INPUT_DEFAULT' })
  })

  it('rejects duplicate input names', () => {
    expect(only(wf(t('a'), 'inputs: [{name: n, type: string}, {name: n, type: number}]\n'))).toMatchObject({ path: 'inputs[1]', code: 'DUPLICATE_INPUT' })
  })

  it('rejects input names every plain object already has (__proto__, constructor, toString)', () => {
    for (const name of ['__proto__', 'constructor', 'toString']) {
      expect(only(wf(t('a'), `inputs: [{name: "${name}", type: string}]\n`))).toMatchObject({ path: 'inputs[0]', code: 'INVALID_INPUT_NAME' })
    }
    expect(parseWorkflow(wf(t('a'), 'inputs: [{name: proto, type: string}, {name: constructor_id, type: string}]\n')).ok).toBe(true)
  })

  it('rejects invalid env variable names', () => {
    expect(only(wf(t('a', '    env: {"BAD-NAME": x}\n')))).toMatchObject({ path: 'tasks[0].env.BAD-NAME', code: 'INVALID_ENV_NAME' })
  })
})

describe('template references', () => {
  it('rejects an undeclared input', () => {
    expect(only(wf(t('a', '    inputs: {x: "{{ inputs.missing }}"}\n')))).toMatchObject({ path: 'tasks[0].inputs.x', code: 'UNDECLARED_INPUT', line: 5, column: 17 })
  })

  it('rejects an undeclared secret', () => {
    expect(only(wf(t('a', '    env: {TOKEN: "{{ secrets.TOKEN }}"}\n')))).toMatchObject({ path: 'tasks[0].env.TOKEN', code: 'UNDECLARED_SECRET' })
  })

  it('matches secret names case-insensitively', () => {
    expect(parseWorkflow(wf(t('a', '    env: {TOKEN: "{{ secrets.token }}"}\n'), 'secrets: [Token]\n')).ok).toBe(true)
  })

  it('rejects a reference to an unknown task', () => {
    expect(only(wf(t('a', '    inputs: {x: "{{ tasks.nope.output }}"}\n')))).toMatchObject({ path: 'tasks[0].inputs.x', code: 'UNKNOWN_TASK_REF' })
  })

  it('rejects a reference to a task that is not upstream', () => {
    expect(only(wf(t('a') + t('b') + t('c', '    needs: [a]\n    inputs: {list: ["{{ tasks.b.output.v }}"]}\n'))))
      .toMatchObject({ path: 'tasks[2].inputs.list[0]', code: 'TASK_REF_NOT_UPSTREAM' })
  })

  it('rejects a reference to a downstream task', () => {
    expect(only(wf(t('a', '    inputs: {x: "{{ tasks.b.output }}"}\n') + t('b', '    needs: a\n'))))
      .toMatchObject({ path: 'tasks[0].inputs.x', code: 'TASK_REF_NOT_UPSTREAM' })
  })

  it('rejects a task reference without output', () => {
    expect(only(wf(t('a') + t('b', '    needs: a\n    inputs: {x: "{{ tasks.a.status }}"}\n')))).toMatchObject({ path: 'tasks[1].inputs.x', code: 'INVALID_TEMPLATE' })
  })

  it('rejects the env root', () => {
    const i = only(wf(t('a', '    inputs: {home: "{{ env.HOME }}"}\n')))
    expect(i).toMatchObject({ path: 'tasks[0].inputs.home', code: 'INVALID_TEMPLATE' })
    expect(i.message).toContain('unknown template root "env"')
  })

  it('rejects an unclosed template', () => {
    expect(only(wf(t('a', '    inputs: {x: "hello {{ inputs.name"}\n')))).toMatchObject({ path: 'tasks[0].inputs.x', code: 'INVALID_TEMPLATE' })
  })

  it('rejects a root without a name', () => {
    expect(only(wf(t('a', '    inputs: {x: "{{ inputs }}"}\n')))).toMatchObject({ code: 'INVALID_TEMPLATE' })
  })

  it('accepts execution references', () => {
    expect(parseWorkflow(wf(t('a', '    inputs: {x: "{{ execution.id }}/{{ execution.workflowId }}"}\n'))).ok).toBe(true)
  })
})
