/** Document limits: each bound gives its own code at the offending path, and duplicate keys are found in one pass. */
import { describe, expect, it } from 'bun:test'
import { DEFAULT_WORKFLOW_LIMITS, exceedsBytes, type WorkflowLimits } from './limits.ts'
import type { Issue } from './model.ts'
import { parseWorkflow } from './parse.ts'

const task = (id: string, extra = '') => `  - id: ${id}\n    type: core/echo.run\n${extra}`
const wf = (tasks: string, head = '') => `id: w\n${head}tasks:\n${tasks}`

function issues(yaml: string, limits: Partial<WorkflowLimits> = {}): Issue[] {
  const r = parseWorkflow(yaml, limits)
  if (r.ok) throw new Error('expected invalid')
  return r.issues
}

const one = (yaml: string, limits: Partial<WorkflowLimits> = {}) => {
  const found = issues(yaml, limits)
  expect(found).toHaveLength(1)
  return found[0]!
}

const inputsMap = (n: number) => `    inputs:\n${Array.from({ length: n }, (_, i) => `      k${i}: v\n`).join('')}`

describe('workflow limits', () => {
  it('refuses a document over maxDocumentBytes before parsing it, counting UTF-8 bytes', () => {
    const doc = wf(task('a', '    inputs: {x: "ééééé"}\n'))
    const bytes = Buffer.byteLength(doc)
    expect(parseWorkflow(doc, { maxDocumentBytes: bytes }).ok).toBe(true)
    const i = one(doc, { maxDocumentBytes: bytes - 1 })
    expect(i).toMatchObject({ path: '', code: 'DOCUMENT_TOO_LARGE' })
    expect(i.message).toBe(`the document is ${bytes} bytes; the limit is ${bytes - 1} (limits.maxDocumentBytes)`)
    // Not even YAML: the size decides before the parser would complain.
    expect(one(`${'['.repeat(2000)}`, { maxDocumentBytes: 1000 }).code).toBe('DOCUMENT_TOO_LARGE')
  })

  it('refuses more than maxTasks tasks at `tasks`', () => {
    const doc = wf(task('a') + task('b') + task('c'))
    expect(parseWorkflow(doc, { maxTasks: 3 }).ok).toBe(true)
    expect(one(doc, { maxTasks: 2 })).toMatchObject({ path: 'tasks', code: 'TOO_MANY_TASKS', line: 3, message: '3 tasks; the limit is 2 (limits.maxTasks)' })
  })

  it('bounds the onFailure and finally lists like tasks, each', () => {
    const doc = `${wf(task('a'))}finally:\n${task('b') + task('c') + task('d')}`
    expect(parseWorkflow(doc, { maxTasks: 3 }).ok).toBe(true)
    expect(one(doc, { maxTasks: 2 })).toMatchObject({ path: 'finally', code: 'TOO_MANY_TASKS', message: '3 finally tasks; the limit is 2 (limits.maxTasks)' })
  })

  it('refuses more than maxTriggers triggers at `triggers`', () => {
    const head = `triggers:\n${'  - {type: cron, cron: "0 * * * *"}\n'.repeat(3)}`
    expect(parseWorkflow(wf(task('a'), head), { maxTriggers: 3 }).ok).toBe(true)
    expect(one(wf(task('a'), head), { maxTriggers: 2 })).toMatchObject({ path: 'triggers', code: 'TOO_MANY_TRIGGERS', message: '3 triggers; the limit is 2 (limits.maxTriggers)' })
    // Deeper lists named triggers are ordinary lists.
    expect(parseWorkflow(wf(task('a', '    inputs: {triggers: [1, 2, 3]}\n')), { maxTriggers: 2 }).ok).toBe(true)
  })

  it('refuses a map with more than maxMapKeys keys at the map', () => {
    const doc = wf(task('a', inputsMap(5)))
    expect(parseWorkflow(doc, { maxMapKeys: 5 }).ok).toBe(true)
    expect(one(doc, { maxMapKeys: 4 })).toMatchObject({ path: 'tasks[0].inputs', code: 'TOO_MANY_KEYS', line: 6 })
  })

  it('refuses a list with more than maxListItems items at the list', () => {
    const doc = wf(task('a', '    inputs:\n      xs: [1, 2, 3]\n'))
    expect(one(doc, { maxListItems: 2 })).toMatchObject({ path: 'tasks[0].inputs.xs', code: 'TOO_MANY_ITEMS', line: 6, column: 11 })
  })

  it('refuses nesting deeper than maxDepth at the first node too deep', () => {
    // Depth: workflow 1, tasks 2, task 3, inputs 4, a 5, b 6.
    const doc = wf(task('a', '    inputs: {a: {b: {c: 1}}}\n'))
    expect(parseWorkflow(doc, { maxDepth: 6 }).ok).toBe(true)
    expect(one(doc, { maxDepth: 5 })).toMatchObject({ path: 'tasks[0].inputs.a.b', code: 'TOO_DEEP' })
    // Deeper than the parser's recursion survives: its RESOURCE_EXHAUSTION becomes TOO_DEEP too.
    const deep = one(wf(task('a', `    inputs: {x: ${'['.repeat(10_000)}${']'.repeat(10_000)}}\n`)))
    expect(deep).toMatchObject({ path: '', code: 'TOO_DEEP', line: 5 })
  })

  it('answers TOO_DEEP, not an exception, when the YAML parser\'s own recursion overflows on a flat document', () => {
    // 150 KB, every line at the same depth, but after a broken alias the parser nests once per line.
    const doc = `a:\n  *    k1: 1\n${Array.from({ length: 12_000 }, (_, i) => `      k${i + 2}: 1\n`).join('')}1`
    expect(one(doc)).toEqual({ path: '', code: 'TOO_DEEP', message: 'nested too deeply to parse (the limit is 64: limits.maxDepth)' })
  })

  it('refuses strings longer than maxStringLength, values and keys alike', () => {
    // 13 characters: the longest string of the task itself is its type, core/echo.run.
    expect(one(wf(task('a', `    inputs: {x: ${'y'.repeat(14)}}\n`)), { maxStringLength: 13 }))
      .toMatchObject({ path: 'tasks[0].inputs.x', code: 'STRING_TOO_LONG', line: 5, column: 17 })
    expect(one(wf(task('a', `    inputs: {${'k'.repeat(14)}: 1}\n`)), { maxStringLength: 13 }))
      .toMatchObject({ path: `tasks[0].inputs.${'k'.repeat(14)}`, code: 'STRING_TOO_LONG', column: 14 })
  })

  it('refuses a template longer than maxExpressionLength, counting from {{ to }}', () => {
    const tpl = `{{ inputs.${'x'.repeat(20)} }}`
    const doc = wf(task('a', `    inputs: {v: "ok {{ inputs.a }} then ${tpl}"}\n`), 'inputs: {a: {type: string}}\n')
    expect(one(doc, { maxExpressionLength: tpl.length - 1 })).toMatchObject({ path: 'tasks[0].inputs.v', code: 'TEMPLATE_TOO_LONG' })
    expect(issues(doc, { maxExpressionLength: tpl.length }).map((i) => i.code)).toEqual(['UNDECLARED_INPUT'])
  })

  it('refuses more than maxAliases aliases at the first one over', () => {
    const doc = wf(task('a', '    inputs: {x: &v 1, y: *v, z: *v}\n'))
    expect(parseWorkflow(doc, { maxAliases: 2 }).ok).toBe(true)
    expect(one(doc, { maxAliases: 1 })).toMatchObject({ path: 'tasks[0].inputs.z', code: 'TOO_MANY_ALIASES', line: 5, column: 33 })
  })

  it('stops a billion-laughs expansion with the alias budget', () => {
    const lol = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
    for (let i = 1; i < 9; i++) lol.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`)
    const doc = wf(task('t', `    inputs:\n${lol.map((l) => `      ${l}\n`).join('')}`))
    // 80 aliases (under the limit of 100), but 10^9 values once expanded.
    expect(one(doc)).toMatchObject({ path: '', code: 'TOO_MANY_ALIASES', message: 'aliases expand too much (limits.maxAliases is 100)' })
  })

  it('caps the issue list at maxIssues with one TOO_MANY_ISSUES entry', () => {
    const tasks = Array.from({ length: 30 }, (_, i) => task(`t${i}`, '    needs: [nope]\n')).join('')
    const found = issues(wf(tasks), { maxIssues: 10 })
    expect(found).toHaveLength(11)
    expect(found.slice(0, 10).every((i) => i.code === 'UNKNOWN_NEED')).toBe(true)
    expect(found[10]).toEqual({ path: '', code: 'TOO_MANY_ISSUES', message: 'only the first 10 problems are shown (limits.maxIssues)' })
    // The walk's own issues are capped while walking.
    const long = Array.from({ length: 30 }, (_, i) => `      k${i}: ${'z'.repeat(20)}\n`).join('')
    const walked = issues(wf(task('a', `    inputs:\n${long}`)), { maxIssues: 5, maxStringLength: 15 })
    expect(walked.map((i) => i.code)).toEqual([...Array(5).fill('STRING_TOO_LONG'), 'TOO_MANY_ISSUES'])
    expect(walked[0]!.path).toBe('tasks[0].inputs.k0')
  })

  it('reports limits before the structure and semantics, which are not looked at', () => {
    const found = issues(wf(task('A', '    needs: [nope]\n    inputs: {x: [1, 2, 3]}\n')), { maxListItems: 1 })
    expect(found.map((i) => i.code)).toEqual(['TOO_MANY_ITEMS'])
  })

  it('applies the defaults where a limit is not given', () => {
    const tasks = Array.from({ length: DEFAULT_WORKFLOW_LIMITS.maxTasks + 1 }, (_, i) => task(`t${i}`)).join('')
    expect(one(wf(tasks))).toMatchObject({ code: 'TOO_MANY_TASKS', message: `${DEFAULT_WORKFLOW_LIMITS.maxTasks + 1} tasks; the limit is 1000 (limits.maxTasks)` })
  })

  it('measures UTF-8 size without scanning when the length decides', () => {
    expect(exceedsBytes('abc', 3)).toBe(false)
    expect(exceedsBytes('abcd', 3)).toBe(true)
    expect(exceedsBytes('é', 1)).toBe(true)
    expect(exceedsBytes('😀', 4)).toBe(false)
    expect(exceedsBytes('😀', 3)).toBe(true)
  })
})

describe('duplicate keys', () => {
  it('are YAML_SYNTAX at the second key, naming the first one\'s line', () => {
    expect(one(`id: x\nid: y\n${'tasks:\n'}${task('a')}`)).toMatchObject({
      path: 'id', code: 'YAML_SYNTAX', line: 2, column: 1, message: 'duplicate key "id" (first at line 1)',
    })
  })

  it('include keys that differ in YAML but collide as JS properties (1 and "1")', () => {
    expect(one(wf(task('a', '    inputs: {1: a, "1": b}\n')))).toMatchObject({ path: 'tasks[0].inputs["1"]', code: 'YAML_SYNTAX' })
  })

  it('are found in a 10,000-key map with one pass (a Set per map)', () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `      k${i}: v\n`).join('')
    const found = one(wf(task('a', `    inputs:\n${keys}      k5000: again\n`)), { maxMapKeys: 20_000 })
    expect(found).toMatchObject({ path: 'tasks[0].inputs.k5000', code: 'YAML_SYNTAX', line: 10_006 })
    expect(found.message).toBe('duplicate key "k5000" (first at line 5006)')
  })
})
