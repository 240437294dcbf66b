/** Checks against the loaded plugins: unknown task types and static inputs, with positions, templated values left to run time. */
import { describe, expect, it } from 'bun:test'
import { resolve } from 'node:path'
import { parseWorkflow } from '../../runtime/workflow/parse.ts'
import { loadPlugins } from './registry.ts'
import { pluginChecks } from './workflow-checks.ts'

const registry = loadPlugins([resolve(import.meta.dir, '../../plugins'), resolve(import.meta.dir, '../../test/fixtures/plugins/engine')])
const issues = (yaml: string) => {
  const r = parseWorkflow(yaml, {}, { check: pluginChecks(registry) })
  return r.ok ? [] : r.issues
}
const wf = (tasks: string) => `id: w\ninputs: { name: { type: string }, n: { type: number } }\ntasks:\n${tasks}`

describe('checks against the loaded plugins', () => {
  it('refuses a type no plugin provides, and an action its plugin lacks, at the type with line and column', () => {
    expect(issues(wf('  - { id: a, type: core/nope.x }\n  - { id: b, type: core/log.nope, inputs: { message: hi } }\n'))).toEqual([
      { path: 'tasks[0].type', code: 'UNKNOWN_TASK_TYPE', message: 'no plugin core/nope (task type core/nope.x) on the plugin paths', line: 4, column: 20 },
      { path: 'tasks[1].type', code: 'UNKNOWN_TASK_TYPE', message: 'plugin core/log has no action "nope" (it has: log, info, warn, error)', line: 5, column: 20 },
    ])
  })

  it('refuses a misspelt input at its key, even when its value is a template, and names the missing one', () => {
    expect(issues(wf('  - id: a\n    type: core/log.info\n    inputs:\n      mesage: "hello {{ inputs.name }}"\n'))).toEqual([
      { path: 'tasks[0].inputs.message', code: 'INVALID_TASK_INPUT', message: 'inputs.message is required (input schema of core/log.info)', line: 7, column: 7 },
      { path: 'tasks[0].inputs.mesage', code: 'INVALID_TASK_INPUT', message: 'inputs.mesage is not an allowed property (input schema of core/log.info)', line: 7, column: 7 },
    ])
  })

  it('refuses static values of the wrong type or format, deep in the input, with the JSON Schema features Ajv checks', () => {
    const found = issues(wf('  - id: a\n    type: test/probe.echo\n    inputs:\n      owner: { email: not-an-email }\n      tags: [x, x]\n      retries: 9\n'))
    expect(found.map((i) => [i.path, i.code])).toEqual([
      ['tasks[0].inputs.owner.email', 'INVALID_TASK_INPUT'],
      ['tasks[0].inputs.tags', 'INVALID_TASK_INPUT'],
      ['tasks[0].inputs.retries', 'INVALID_TASK_INPUT'],
    ])
    expect(found.every((i) => i.line !== undefined && i.column !== undefined)).toBe(true)
  })

  it('leaves what depends on a template to run time', () => {
    expect(issues(wf([
      '  - id: a\n    type: core/sleep.wait\n    inputs: { duration: "{{ inputs.name }}" }\n',
      '  - id: b\n    type: test/probe.echo\n    inputs: { owner: "{{ inputs.name }}", tags: ["{{ inputs.name }}"] }\n',
      '  - id: c\n    type: test/probe.effect\n    inputs: { key: k, sleepMs: "{{ inputs.n }}" }\n',
    ].join('')))).toEqual([])
  })

  it('accepts a workflow whose tasks all resolve and whose static inputs fit', () => {
    expect(issues(wf('  - { id: a, type: core/log.info, inputs: { message: hi } }\n  - { id: b, type: core/sleep.wait, inputs: { duration: 1s } }\n'))).toEqual([])
  })

  it('runs only on an otherwise valid workflow (its issues come first and alone)', () => {
    expect(issues(wf('  - { id: a, type: core/nope.x, needs: [ghost] }\n')).map((i) => i.code)).toEqual(['UNKNOWN_NEED'])
  })

  it('refuses unknown fields per task kind in the structure check (an `iff:` is not `if:`)', () => {
    expect(issues(wf('  - { id: a, type: core/log.info, iff: "true", inputs: { message: hi } }\n'))).toMatchObject([{ path: 'tasks[0].iff', code: 'UNKNOWN_FIELD' }])
  })
})
