/** parseWorkflow: valid documents and their normalisation, YAML syntax and structure errors. */
import { describe, expect, it } from 'bun:test'
import { parseWorkflow } from './parse.ts'
import type { Issue, TaskDef, Workflow } from './model.ts'

const fixture = (name: string) => Bun.file(new URL(`./fixtures/${name}`, import.meta.url)).text()

function valid(yaml: string): Workflow {
  const r = parseWorkflow(yaml)
  if (!r.ok) throw new Error(`expected valid, got ${JSON.stringify(r.issues)}`)
  return r.workflow
}

function issues(yaml: string): Issue[] {
  const r = parseWorkflow(yaml)
  if (r.ok) throw new Error('expected invalid')
  return r.issues
}

const one = (yaml: string) => {
  const found = issues(yaml)
  expect(found).toHaveLength(1)
  return found[0] as Issue
}

const task = 'tasks:\n  - id: a\n    type: core/echo.run\n'

describe('parseWorkflow: valid workflows', () => {
  it('normalises the full example fixture', async () => {
    const wf = valid(await fixture('valid.yaml'))
    expect(wf.id).toBe('daily-report')
    expect(wf.enabled).toBe(true)
    expect(wf.secrets).toEqual(['API_TOKEN'])
    expect(wf.timeoutMs).toBe(600_000)
    expect(wf.inputs).toEqual([
      { name: 'city', type: 'string', required: false, default: 'Paris' },
      { name: 'limit', type: 'number', required: false, default: 10 },
    ])
    expect(wf.triggers).toEqual([
      { type: 'cron', cron: '0 7 * * *', timezone: 'Europe/Paris', missed: 'skip', maxCatchup: 0 },
      { type: 'webhook' },
    ])
    expect(wf.tasks.map((t) => [t.id, t.needs])).toEqual([['fetch', []], ['transform', ['fetch']], ['post', ['transform']]])
    expect(wf.tasks[0]?.retry).toEqual({ max: 3, backoff: { type: 'exponential', delayMs: 2000, maxDelayMs: 30_000 } })
    expect(wf.tasks[0]?.timeoutMs).toBe(30_000)
    const plugin = (t: TaskDef | undefined) => (t?.kind === 'plugin' ? t : undefined)
    expect(plugin(wf.tasks[0])?.env).toEqual({ TOKEN: '{{ secrets.API_TOKEN }}' })
    expect(plugin(wf.tasks[2])?.runner).toBe('docker')
  })

  it('accepts a minimal workflow', () => {
    const wf = valid(`id: x\n${task}`)
    expect(wf).toEqual({ id: 'x', enabled: true, inputs: [], secrets: [], triggers: [], tasks: [{ id: 'a', kind: 'plugin', type: 'core/echo.run', needs: [], inputs: {} }] })
  })

  it('accepts inputs as a map', () => {
    const wf = valid(`id: x\ninputs:\n  n: {type: number, required: true}\n  tags: {type: array, default: [a]}\n${task}`)
    expect(wf.inputs).toEqual([{ name: 'n', type: 'number', required: true }, { name: 'tags', type: 'array', required: false, default: ['a'] }])
  })

  it('accepts a single trigger and defaults catchup to one run', () => {
    const wf = valid(`id: x\ntrigger: {type: cron, cron: "@hourly", missed: catchup}\n${task}`)
    expect(wf.triggers).toEqual([{ type: 'cron', cron: '@hourly', missed: 'catchup', maxCatchup: 1 }])
  })

  it('accepts six-field cron expressions', () => {
    expect(valid(`id: x\ntriggers: [{type: cron, cron: "*/10 * * * * *"}]\n${task}`).triggers).toHaveLength(1)
  })

  it('defaults retry backoff to fixed 1s', () => {
    const wf = valid(`id: x\n${task}    retry: {max: 2}\n`)
    expect(wf.tasks[0]?.retry).toEqual({ max: 2, backoff: { type: 'fixed', delayMs: 1000 } })
  })

  it('keeps enabled: false', () => {
    expect(valid(`id: x\nenabled: false\n${task}`).enabled).toBe(false)
  })

  it('warns about declared secrets nobody uses', () => {
    const r = parseWorkflow(`id: x\nsecrets: [UNUSED]\n${task}`)
    expect(r.ok && r.warnings.map((w) => w.code)).toEqual(['UNUSED_SECRET'])
  })

  it('allows transitive upstream task references', () => {
    valid(`id: x\ntasks:\n  - {id: a, type: c/p.a}\n  - {id: b, type: c/p.a, needs: a}\n  - {id: c, type: c/p.a, needs: b, inputs: {v: "{{ tasks.a.output }}"}}\n`)
  })
})

describe('parseWorkflow: syntax and structure errors', () => {
  it('reports YAML syntax errors with a position', () => {
    const i = issues('id: x\ntasks: [\n  - a: b: c\n')[0]
    expect(i?.code).toBe('YAML_SYNTAX')
    expect(i?.line).toBeNumber()
  })

  it('rejects duplicate keys as YAML errors', () => {
    expect(issues(`id: x\nid: y\n${task}`)[0]?.code).toBe('YAML_SYNTAX')
  })

  it('rejects a document that is not a map', () => {
    expect(one('- a\n- b\n')).toMatchObject({ path: '', code: 'INVALID_TYPE' })
  })

  it('rejects an empty document', () => {
    expect(one('')).toMatchObject({ path: '', code: 'INVALID_TYPE' })
  })

  it('requires id', () => {
    expect(one(task)).toMatchObject({ path: 'id', code: 'REQUIRED' })
  })

  it('requires tasks', () => {
    expect(one('id: x\n')).toMatchObject({ path: 'tasks', code: 'REQUIRED' })
  })

  it('rejects an empty task list', () => {
    expect(one('id: x\ntasks: []\n')).toMatchObject({ path: 'tasks', code: 'EMPTY_TASKS', line: 2, column: 8 })
  })

  it('rejects unknown top-level fields, pointing at the key', () => {
    expect(one(`id: x\nschedule: daily\n${task}`)).toMatchObject({ path: 'schedule', code: 'UNKNOWN_FIELD', line: 2, column: 1 })
  })

  it('rejects unknown task fields', () => {
    expect(one(`id: x\n${task}    retries: 3\n`)).toMatchObject({ path: 'tasks[0].retries', code: 'UNKNOWN_FIELD', line: 5, column: 5 })
  })

  it('requires task type', () => {
    expect(one('id: x\ntasks:\n  - id: a\n')).toMatchObject({ path: 'tasks[0].type', code: 'REQUIRED' })
  })

  it('rejects a task that is not a map', () => {
    expect(one('id: x\ntasks:\n  - just-a-string\n')).toMatchObject({ path: 'tasks[0]', code: 'INVALID_TYPE', line: 3, column: 5 })
  })

  it('rejects a non-boolean enabled', () => {
    expect(one(`id: x\nenabled: "yes"\n${task}`)).toMatchObject({ path: 'enabled', code: 'INVALID_TYPE' })
  })

  it('rejects needs of the wrong type', () => {
    expect(one(`id: x\n${task}    needs: {a: 1}\n`)).toMatchObject({ path: 'tasks[0].needs', code: 'INVALID_TYPE' })
  })

  // Which runners exist is the engine's runner registry's (sandbox/runners.ts: an unknown name is refused at
  // apply and by `workflow validate`, tested there); the language checks that a runner is a name.
  it('rejects a runner that is not a runner name', () => {
    expect(one(`id: x\n${task}    runner: Docker VM\n`)).toMatchObject({ path: 'tasks[0].runner', code: 'INVALID_VALUE' })
  })

  it('rejects a negative retry max', () => {
    expect(one(`id: x\n${task}    retry: {max: -1}\n`)).toMatchObject({ path: 'tasks[0].retry.max', code: 'INVALID_VALUE' })
  })

  it('rejects an unknown backoff type', () => {
    expect(one(`id: x\n${task}    retry: {max: 1, backoff: {type: linear}}\n`)).toMatchObject({ path: 'tasks[0].retry.backoff.type', code: 'INVALID_VALUE' })
  })

  it('rejects unknown permission kinds', () => {
    expect(one(`id: x\n${task}    permissions: {network: [a.com], sockets: [x]}\n`)).toMatchObject({ path: 'tasks[0].permissions.sockets', code: 'UNKNOWN_FIELD' })
  })

  it('rejects non-string env values', () => {
    expect(one(`id: x\n${task}    env: {PORT: 80}\n`)).toMatchObject({ path: 'tasks[0].env.PORT', code: 'INVALID_TYPE' })
  })

  it('rejects an unknown input type', () => {
    expect(one(`id: x\ninputs: [{name: n, type: date}]\n${task}`)).toMatchObject({ path: 'inputs[0].type', code: 'INVALID_VALUE' })
  })

  it('rejects unknown fields in map-form inputs', () => {
    expect(one(`id: x\ninputs:\n  n: {type: string, min: 1}\n${task}`)).toMatchObject({ path: 'inputs.n.min', code: 'UNKNOWN_FIELD', line: 3, column: 21 })
  })

  it('rejects inputs that are neither list nor map', () => {
    expect(one(`id: x\ninputs: 3\n${task}`)).toMatchObject({ path: 'inputs', code: 'INVALID_TYPE' })
  })

  it('rejects an unknown trigger type', () => {
    expect(one(`id: x\ntriggers: [{type: email}]\n${task}`)).toMatchObject({ path: 'triggers[0].type', code: 'INVALID_VALUE' })
  })

  it('requires cron on a cron trigger', () => {
    expect(one(`id: x\ntrigger: {type: cron}\n${task}`)).toMatchObject({ path: 'trigger.cron', code: 'REQUIRED' })
  })

  it('rejects an unknown missed policy', () => {
    expect(one(`id: x\ntriggers: [{type: cron, cron: "@daily", missed: all}]\n${task}`)).toMatchObject({ path: 'triggers[0].missed', code: 'INVALID_VALUE' })
  })

  it('collects every error rather than stopping at the first', async () => {
    const found = issues(await fixture('invalid.yaml'))
    expect(found.map((i) => [i.path, i.code])).toEqual([
      ['id', 'INVALID_ID'],
      ['tasks[0].needs[0]', 'UNKNOWN_NEED'],
      ['tasks[1].id', 'DUPLICATE_TASK_ID'],
      ['tasks[1].type', 'INVALID_TASK_TYPE'],
    ])
    expect(found[1]).toMatchObject({ line: 5, column: 13 })
  })
})
