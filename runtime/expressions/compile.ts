/**
 * Compiles one expression: a plain dotted path (v0.1's templates, read directly) or CEL (parsed with the
 * library's limits, walked for roots and refusals, type-checked against the roots the place offers). Results are
 * cached by source, so the engine compiles each expression of a workflow once per worker.
 */
import type { Environment, ParseResult } from '@marcbachmann/cel-js'
import { inspectAst, type ExprRef } from './ast.ts'
import { EXPRESSION_LIMITS } from './limits.ts'
import { ROOTS, type Root, type RootSet } from './scope.ts'

/** A compiled expression: what it reads, and how to run it. */
export type Compiled =
  | { kind: 'path'; source: string; refs: [ExprRef] }
  | { kind: 'cel'; source: string; refs: ExprRef[]; run: ParseResult; type: string }

export type CompileResult = { ok: true; expr: Compiled } | { ok: false; message: string }

/**
 * v0.1's template grammar: `root.name-with-dashes.0[1]`. Every such path means what CEL member access means,
 * and also allows what CEL does not (a `-` in a name, a `.0` index, any casing of a secret's name).
 */
const PATH = /^([A-Za-z_][\w-]*)((?:\.[\w-]+|\[\d+\])*)$/

const ROOT_TYPES: Readonly<Record<Root, string>> = {
  inputs: 'map<string, dyn>',
  tasks: 'map<string, map<string, dyn>>',
  secrets: 'map<string, string>',
  execution: 'map<string, dyn>',
  item: 'dyn',
  index: 'int',
}

const environments = new Map<string, Environment>()

/** One environment per root set: creating one is the library's expensive step. */
function environmentFor(set: RootSet): Environment {
  let env = environments.get(set.name)
  if (!env) {
    // Loaded on first use, not with this module: every CLI command parses workflows, few meet a CEL expression.
    const { Environment: CelEnvironment } = require('@marcbachmann/cel-js') as typeof import('@marcbachmann/cel-js')
    env = new CelEnvironment({
      homogeneousAggregateLiterals: false,
      limits: {
        maxAstNodes: EXPRESSION_LIMITS.maxAstNodes, maxDepth: EXPRESSION_LIMITS.maxDepth,
        maxListElements: EXPRESSION_LIMITS.maxListElements, maxMapEntries: EXPRESSION_LIMITS.maxMapEntries,
        maxCallArguments: EXPRESSION_LIMITS.maxCallArguments,
      },
    })
    for (const r of set.roots) env.registerVariable(r, ROOT_TYPES[r])
    environments.set(set.name, env)
  }
  return env
}

const cache = new Map<string, CompileResult>()
const CACHE_MAX = 4_096

/** Compiles `source` (the text between `{{` and `}}`, or a bare `if:`) for the roots of `set`. */
export function compileExpression(source: string, set: RootSet): CompileResult {
  const key = `${set.name}\u0000${source}`
  let r = cache.get(key)
  if (r) return r
  r = compileUncached(source.trim(), set)
  if (cache.size >= CACHE_MAX) cache.clear()
  cache.set(key, r)
  return r
}

function compileUncached(source: string, set: RootSet): CompileResult {
  if (source === '') return { ok: false, message: 'empty expression' }
  if (source.length > EXPRESSION_LIMITS.maxChars) return { ok: false, message: `expression of ${source.length} characters; the limit is ${EXPRESSION_LIMITS.maxChars}` }
  const path = PATH.exec(source)
  if (path) {
    const root = path[1] ?? ''
    const segments = (path[2] ?? '').split(/\.|\[|\]/).filter((p) => p !== '')
    // A path that is valid CEL goes through CEL's walk for its checks; one that is not is checked here the same way.
    if ((ROOTS as readonly string[]).includes(root) || !/^[A-Za-z_]\w*$/.test(root)) {
      return compilePath(source, root, segments, set)
    }
  }
  let run: ParseResult
  try {
    run = environmentFor(set).parse(source)
  } catch (e) {
    return { ok: false, message: `${summaryOf(e)}${dashHint(source)}` }
  }
  const report = inspectAst(run.ast, set)
  if (report.problems.length) return { ok: false, message: `${report.problems.join('; ')}${dashHint(source)}` }
  const checked = run.check()
  if (!checked.valid) return { ok: false, message: `${summaryOf(checked.error)}${dashHint(source)}` }
  return { ok: true, expr: { kind: 'cel', source, refs: report.refs, run, type: checked.type ?? 'dyn' } }
}

function compilePath(source: string, root: string, path: string[], set: RootSet): CompileResult {
  if (!(ROOTS as readonly string[]).includes(root)) return { ok: false, message: `unknown template root "${root}" (roots: ${set.roots.join(', ')})` }
  const r = root as Root
  if (!set.roots.includes(r)) return { ok: false, message: `"${r}" ${set.absent[r] ?? 'is not in scope here'}` }
  // `item` and `index` are values; the other roots are maps a path names something in (as in v0.1).
  if (path.length === 0 && r !== 'item' && r !== 'index') return { ok: false, message: `needs a name after "${r}"` }
  if (r === 'secrets' && path.length > 1) return { ok: false, message: `secrets.${path[0]} is a string; it has no fields` }
  if (r === 'tasks' && !['output', 'state', 'outputs', 'files'].includes(path[1] ?? '')) return { ok: false, message: `expected tasks.${path[0]}.output|state|outputs|files` }
  return { ok: true, expr: { kind: 'path', source, refs: [{ root: r, path }] } }
}

/** The library's one-line message (its `message` adds a source excerpt). */
function summaryOf(e: unknown): string {
  const s = (e as { summary?: unknown } | undefined)?.summary
  if (typeof s === 'string') return s
  return e instanceof Error ? e.message : String(e)
}

/** CEL reads `tasks.fetch-data` as a subtraction: say how to write a name with a dash. */
function dashHint(source: string): string {
  const m = /\b(tasks|inputs)\.([A-Za-z_][\w]*-[\w-]*)/.exec(source)
  return m ? ` (in CEL, write a name with "-" as ${m[1]}["${m[2]}"])` : ''
}
