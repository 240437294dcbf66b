/** The expression layer: CEL over the roots, the refusals, the cost bound and the JSON boundary. */
import { describe, expect, it } from 'bun:test'
import { AppError } from '../errors.ts'
import { compileExpression, type Compiled } from './compile.ts'
import { evaluateExpression } from './evaluate.ts'
import { CONDITION_SCOPE, TEMPLATE_SCOPE, withRoots, type ExpressionScope, type RootSet } from './scope.ts'

const scope: ExpressionScope = {
  inputs: { n: 3, f: 1.5, name: 'Ada', list: [1, 2, 3], flags: { a: true }, 'with-dash': 'd' },
  tasks: { fetch: { state: 'SUCCESS', output: { items: [{ name: 'first' }, { name: 'second' }], count: 2 } }, gone: { state: 'SKIPPED' } },
  secrets: { API_TOKEN: 's3cret' },
  execution: { id: 'ex_1', workflowId: 'w' },
}

function compiled(source: string, set: RootSet = TEMPLATE_SCOPE): Compiled {
  const r = compileExpression(source, set)
  if (!r.ok) throw new Error(`did not compile: ${r.message}`)
  return r.expr
}
const run = (source: string, s: ExpressionScope = scope, set: RootSet = TEMPLATE_SCOPE) => evaluateExpression(compiled(source, set), s)
const refusal = (source: string, set: RootSet = TEMPLATE_SCOPE): string => {
  const r = compileExpression(source, set)
  if (r.ok) throw new Error(`compiled: ${source}`)
  return r.message
}
function thrown(f: () => unknown): AppError {
  try {
    f()
  } catch (e) {
    if (e instanceof AppError) return e
    throw e
  }
  throw new Error('expected a throw')
}

describe('CEL over the roots', () => {
  it('evaluates operators, macros and functions, with JSON integers as CEL ints', () => {
    expect(run('inputs.n + 1')).toBe(4)
    expect(run('inputs.f * 2.0')).toBe(3)
    expect(run('size(tasks.fetch.output.items) > 0')).toBe(true)
    expect(run('tasks.fetch.output.items.map(i, i.name)')).toEqual(['first', 'second'])
    expect(run('inputs.list.filter(x, x > 1).size() == tasks.fetch.output.count')).toBe(true)
    expect(run('inputs.name.startsWith("A") ? "yes" : "no"')).toBe('yes')
    expect(run('has(tasks.gone.output)')).toBe(false)
    expect(run('tasks.gone.state == "SKIPPED"')).toBe(true)
    expect(run('{"who": inputs.name, "n": inputs.n}')).toEqual({ who: 'Ada', n: 3 })
  })

  it('returns scope data as it is, without copying or converting it', () => {
    expect(run('inputs.flags')).toBe(scope.inputs!.flags)
    expect(run('[inputs.flags]')).toEqual([{ a: true }])
  })

  it('reads v0.1 paths directly, dashes, .0 indexes and any secret casing included', () => {
    expect(run('inputs.with-dash')).toBe('d')
    expect(run('tasks.fetch.output.items.1.name')).toBe('second')
    expect(run('secrets.api_token')).toBe('s3cret')
    expect(compiled('tasks.fetch.output.items[0].name').kind).toBe('path')
  })

  it('says how to write a dashed name in CEL', () => {
    expect(refusal('size(inputs.with-dash) > 0')).toContain('inputs["with-dash"]')
  })

  it('sees own data only: nothing inherited from Object or Array is reachable', () => {
    for (const e of ['inputs.constructor', 'inputs.list.constructor', 'dyn(inputs)["__proto__"]', 'inputs.toString']) {
      expect(thrown(() => run(e)).code).toBe('TEMPLATE_ERROR')
    }
    expect(run('has(inputs.constructor)')).toBe(false)
  })

  it('reports a missing value as TEMPLATE_ERROR', () => {
    const e = thrown(() => run('inputs.nope + 1'))
    expect(e.code).toBe('TEMPLATE_ERROR')
    expect(e.message).toContain('nope')
  })

  it('refuses values JSON cannot hold', () => {
    expect(thrown(() => run('b"abc"')).code).toBe('TEMPLATE_ERROR')
    expect(thrown(() => run('9223372036854775807')).message).toContain('2^53')
    expect(run('string(b"abc".base64())')).toBe('YWJj')
  })
})

describe('compile-time checks', () => {
  it('refuses unknown roots, env included, and roots absent from the place', () => {
    expect(refusal('env.HOME == "x"')).toContain('unknown template root "env"')
    expect(refusal('env.HOME')).toContain('unknown template root "env"')
    expect(refusal('secrets.API_TOKEN == "x"', CONDITION_SCOPE)).toContain('cannot be read here')
    expect(refusal('item.name')).toContain('only in scope inside a forEach')
    expect(compileExpression('item.name + string(index)', withRoots(TEMPLATE_SCOPE, 'each', ['item', 'index'])).ok).toBe(true)
  })

  it('type-checks what it can', () => {
    expect(refusal('inputs.name + 1 == 2 && secrets.API_TOKEN + 1 == "x"')).toBeTruthy()
    expect(refusal('size(1)')).toContain('size')
    expect(refusal('inputs.n +')).toBeTruthy()
  })

  it('needs tasks and secrets named statically, and a task field', () => {
    expect(refusal('tasks[inputs.name].output')).toContain('name the task')
    expect(refusal('secrets[inputs.name]')).toContain('name the secret')
    expect(refusal('tasks.fetch.oops')).toContain('output|state|outputs')
  })

  it('lets a secret be used only whole, so masking still finds it', () => {
    expect(compileExpression('"Bearer " + secrets.API_TOKEN', TEMPLATE_SCOPE).ok).toBe(true)
    expect(refusal('secrets.API_TOKEN.substring(1)')).toContain('only be used whole')
    expect(refusal('int(secrets.API_TOKEN)')).toContain('only be used whole')
    expect(refusal('secrets.API_TOKEN == "x" ? 1 : 2')).toContain('only be used whole')
    expect(refusal('[secrets.API_TOKEN]')).toContain('only be used whole')
  })

  it('refuses regexes, cel.bind, deep comprehensions and a variable hiding a root', () => {
    expect(refusal('inputs.name.matches("(a+)+$")')).toContain('matches')
    expect(refusal('cel.bind(x, inputs.name, x + x)')).toContain('cel.bind')
    expect(refusal('inputs.list.all(a, inputs.list.all(b, inputs.list.all(c, true)))')).toContain('nest at most 2')
    expect(refusal('inputs.list.map(inputs, inputs)')).toContain('hides the root')
  })

  it('bounds the size of an expression', () => {
    expect(refusal(`inputs.n${' + 1'.repeat(2_000)}`)).toContain('limit')
    expect(refusal(`[${'1,'.repeat(300)}1]`)).toBeTruthy()
  })

  it('collects the roots it reads with their static paths', () => {
    const e = compiled('tasks.fetch.output.items[inputs.n].name + secrets.API_TOKEN')
    expect(e.refs).toHaveLength(3)
    expect(e.refs).toEqual(expect.arrayContaining([
      { root: 'tasks', path: ['fetch', 'output', 'items'] },
      { root: 'inputs', path: ['n'] },
      { root: 'secrets', path: ['API_TOKEN'] },
    ]))
  })
})

describe('the evaluation bound', () => {
  const big: ExpressionScope = { inputs: { list: Array.from({ length: 2_000 }, (_, i) => i) } }

  it('stops an evaluation past its cost with EXPRESSION_LIMIT', () => {
    expect(run('inputs.list.map(x, x).size()', big)).toBe(2_000)
    const e = thrown(() => run('inputs.list.map(a, inputs.list.map(b, a + b)).size()', big))
    expect(e.code).toBe('EXPRESSION_LIMIT')
  })

  it('holds even when CEL absorbs the error the bound threw (error || true is true)', () => {
    const e = thrown(() => run('inputs.list.exists(a, inputs.list.exists(b, b < 0)) || true', big))
    expect(e.code).toBe('EXPRESSION_LIMIT')
  })

  it('charges long strings by their length', () => {
    const long: ExpressionScope = { inputs: { s: 'x'.repeat(1_000_000), list: Array.from({ length: 200 }, (_, i) => i) } }
    expect(thrown(() => run('inputs.list.all(i, inputs.s.contains("y") == false)', long)).code).toBe('EXPRESSION_LIMIT')
  })

  it('bounds the size of what an expression yields', () => {
    const long: ExpressionScope = { inputs: { list: Array.from({ length: 200 }, () => 'y'.repeat(10_000)) } }
    expect(thrown(() => run('inputs.list.map(s, s + s)', long)).code).toBe('EXPRESSION_LIMIT')
  })
})

describe('values from outside are data', () => {
  it('never evaluates a value that holds {{ … }}', () => {
    const hostile: ExpressionScope = { ...scope, inputs: { x: '{{ secrets.API_TOKEN }}', y: 'secrets.API_TOKEN' } }
    expect(run('inputs.x', hostile)).toBe('{{ secrets.API_TOKEN }}')
    expect(run('inputs.x + "!"', hostile)).toBe('{{ secrets.API_TOKEN }}!')
    expect(run('inputs.y', hostile)).toBe('secrets.API_TOKEN')
  })
})
