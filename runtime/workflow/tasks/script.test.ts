import { describe, expect, it } from 'bun:test'
import { parseWorkflow } from '../parse.ts'
import { pluginCallsOf } from './registry.ts'

const issuesOf = (tasks: string) => {
  const r = parseWorkflow(`id: w\ninputs: [{ name: n, type: number }]\ntasks:\n${tasks}`)
  return r.ok ? [] : r.issues.map((i) => [i.path, i.code])
}

describe('the script kind', () => {
  it('is claimed by its type; any other type stays a plugin task', () => {
    const r = parseWorkflow(`id: w
tasks:
  - { id: b, type: core/script.bun, script: "return 1", inputs: { a: 1 } }
  - { id: s, type: core/script.shell, shell: bash, commands: [echo a, echo b] }
  - { id: p, type: core/script.python, script: "x = 1" }
  - { id: l, type: core/log.info, inputs: { message: hi } }
`)
    if (!r.ok) throw new Error(JSON.stringify(r.issues))
    expect(r.workflow.tasks.map((t) => t.kind)).toEqual(['script', 'script', 'script', 'plugin'])
    expect(r.workflow.tasks[1]).toMatchObject({ type: 'core/script.shell', shell: 'bash', script: 'echo a\necho b' })
    expect(pluginCallsOf(r.workflow.tasks[0]!)).toEqual([{ id: 'b', type: 'core/script.bun', inputs: { inputs: { a: 1 } }, verbatim: { script: 'return 1' }, interpreter: 'bun' }])
    expect(pluginCallsOf(r.workflow.tasks[1]!)[0]!.interpreter).toBe('bash')
    expect(pluginCallsOf(r.workflow.tasks[2]!)[0]!.interpreter).toBe('python')
  })

  it('reports each mistake at its path', () => {
    expect(issuesOf('  - { id: a, type: core/script.bun }\n')).toEqual([['tasks[0].script', 'REQUIRED']])
    expect(issuesOf('  - { id: a, type: core/script.shell, script: "echo" }\n')).toEqual([['tasks[0].commands', 'REQUIRED'], ['tasks[0].script', 'UNKNOWN_FIELD']])
    expect(issuesOf('  - { id: a, type: core/script.bun, script: "1", shell: bash }\n')).toEqual([['tasks[0].shell', 'UNKNOWN_FIELD']])
    expect(issuesOf('  - { id: a, type: core/script.shell, commands: [x], shell: zsh }\n').map((i) => i[0])).toEqual(['tasks[0].shell'])
    expect(issuesOf('  - { id: a, type: core/script.bun, script: "1", isolation: workflow }\n')).toEqual([['tasks[0].isolation', 'UNKNOWN_FIELD']])
    expect(issuesOf('  - { id: a, type: core/script.bun, script: "1", env: { "1X": y } }\n')).toEqual([['tasks[0].env["1X"]', 'INVALID_ENV_NAME']])
    expect(issuesOf('  - { id: a, type: core/log.info, script: "1" }\n')).toEqual([['tasks[0].script', 'UNKNOWN_FIELD']])
  })

  it('takes an image only with a container runner, and only a Docker image reference', () => {
    const sh = (more: string) => issuesOf(`  - { id: a, type: core/script.shell, commands: [x], ${more} }\n`)
    expect(sh('image: "my/sh:1"')).toEqual([['tasks[0].image', 'INVALID_VALUE']])
    expect(sh('runner: process, image: "my/sh:1"')).toEqual([['tasks[0].image', 'INVALID_VALUE']])
    expect(sh('runner: docker, image: "-v/x"')).toEqual([['tasks[0].image', 'INVALID_VALUE']])
    expect(sh('runner: docker, image: "My/Sh"')).toEqual([['tasks[0].image', 'INVALID_VALUE']])
    expect(sh('runner: docker, image: "{{ inputs.n }}"')).toEqual([['tasks[0].image', 'INVALID_VALUE']])
    for (const ok of ['my/sh:1', 'registry.local:5000/team/py:3.12-slim', `py@sha256:${'a'.repeat(64)}`, `sha256:${'b'.repeat(64)}`]) {
      expect(sh(`runner: docker, image: "${ok}"`)).toEqual([])
    }
    const r = parseWorkflow('id: w\ntasks:\n  - { id: a, type: core/script.python, runner: docker, image: "my/py:1", script: "x = 1" }\n')
    if (!r.ok) throw new Error(JSON.stringify(r.issues))
    expect(pluginCallsOf(r.workflow.tasks[0]!)[0]).toMatchObject({ runner: 'docker', image: 'my/py:1', interpreter: 'python' })
  })

  it('checks the templates of its inputs, never its code', () => {
    expect(issuesOf('  - { id: a, type: core/script.bun, script: "return \'{{ inputs.nope }}\'", inputs: { n: "{{ inputs.n }}" } }\n')).toEqual([])
    expect(issuesOf('  - { id: a, type: core/script.bun, script: "return 1", inputs: { n: "{{ inputs.nope }}" } }\n')).toEqual([['tasks[0].inputs.n', 'UNDECLARED_INPUT']])
  })
})
