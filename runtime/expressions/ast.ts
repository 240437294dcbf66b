/**
 * One walk over a parsed CEL expression: the roots it reads with their static paths (what validation checks and
 * what the engine loads: task outputs, secrets), and the constructs refused because they would escape a bound or
 * the masking of secrets.
 */
import { EXPRESSION_LIMITS } from './limits.ts'
import { ROOTS, TASK_FIELDS, type Root, type RootSet } from './scope.ts'

/** A read of a root: `tasks.fetch.output.items[0]` → root `tasks`, path `['fetch', 'output', 'items', '0']`. */
export interface ExprRef {
  root: Root
  /** The static part of the access, up to the first computed key. */
  path: string[]
}

/** The parts of a node this walk needs (the library's AST node, structurally). */
interface Node {
  op: string
  args: unknown
}

const isNode = (v: unknown): v is Node => v !== null && typeof v === 'object' && typeof (v as Node).op === 'string'
const ACCESS = new Set(['.', '.?', '[]', '[?]'])
const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter'])
/** Identifiers that name types, not values (`type(x) == int`). */
const TYPE_NAMES = new Set(['int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn'])
const isRoot = (name: string): name is Root => (ROOTS as readonly string[]).includes(name)

/** What the walk found: every root read, and every refusal (each a sentence). */
export interface AstReport {
  refs: ExprRef[]
  problems: string[]
}

/** Walks `ast` (a root of the library's syntax tree) against the roots `set` offers. */
export function inspectAst(ast: unknown, set: RootSet): AstReport {
  const refs: ExprRef[] = []
  const problems: string[] = []
  const problem = (m: string) => { if (!problems.includes(m)) problems.push(m) }

  /** `whole`: the value of this node reaches the result unchanged or concatenated (where a secret may be). */
  const walk = (n: unknown, bound: ReadonlySet<string>, nesting: number, whole: boolean): void => {
    if (!isNode(n)) return
    if (n.op === 'id' || ACCESS.has(n.op)) return access(n, bound, nesting, whole)
    if (n.op === 'rcall') {
      const [name, receiver, args] = n.args as [string, unknown, unknown[]]
      if (name === 'matches') problem('matches() is not available: a regular expression can take exponential time on outside data (use contains, startsWith or endsWith)')
      if (name === 'bind' && isNode(receiver) && receiver.op === 'id' && receiver.args === 'cel') {
        problem('cel.bind() is not available: a bound value can be reused without being paid for, which breaks the cost bound')
        return
      }
      const first = args[0]
      if (COMPREHENSIONS.has(name) && isNode(first) && first.op === 'id' && typeof first.args === 'string') {
        walk(receiver, bound, nesting, false)
        if (nesting + 1 > EXPRESSION_LIMITS.maxComprehensionNesting) {
          problem(`comprehensions nest at most ${EXPRESSION_LIMITS.maxComprehensionNesting} deep`)
        }
        if (isRoot(first.args)) problem(`the variable "${first.args}" of ${name}() hides the root of the same name`)
        const inner = new Set(bound).add(first.args)
        for (const a of args.slice(1)) walk(a, inner, nesting + 1, false)
        return
      }
      walk(receiver, bound, nesting, false)
      for (const a of args) walk(a, bound, nesting, false)
      return
    }
    if (n.op === 'call') {
      for (const a of (n.args as [string, unknown[]])[1]) walk(a, bound, nesting, false)
      return
    }
    if (n.op === 'value') return
    if (n.op === 'map') {
      for (const entry of n.args as unknown[][]) for (const x of entry) walk(x, bound, nesting, false)
      return
    }
    // Operators, lists, the ternary: every operand is a child. Only `+` keeps a secret whole (masking finds it in the result).
    const keep = whole && n.op === '+'
    const children = Array.isArray(n.args) ? n.args : [n.args]
    for (const c of children) walk(c, bound, nesting, keep)
  }

  /** A chain of member and index accesses ending at an identifier. */
  const access = (n: Node, bound: ReadonlySet<string>, nesting: number, whole: boolean): void => {
    const keys: (string | undefined)[] = []
    let base: Node = n
    while (ACCESS.has(base.op)) {
      const [target, key] = base.args as [unknown, unknown]
      if (base.op === '.' || base.op === '.?') keys.push(typeof key === 'string' ? key : undefined)
      else {
        const literal = isNode(key) && key.op === 'value' && (typeof key.args === 'string' || typeof key.args === 'bigint') ? String(key.args) : undefined
        keys.push(literal)
        if (literal === undefined) walk(key, bound, nesting, false)
      }
      if (!isNode(target)) return
      base = target
    }
    if (base.op !== 'id') return walk(base, bound, nesting, false)
    const name = base.args as string
    if (bound.has(name) || TYPE_NAMES.has(name)) return
    if (!isRoot(name)) return problem(`unknown template root "${name}" (roots: ${set.roots.join(', ')})`)
    if (!set.roots.includes(name)) return problem(`"${name}" ${set.absent[name] ?? 'is not in scope here'}`)
    keys.reverse()
    const dynamicAt = keys.indexOf(undefined)
    const path = (dynamicAt < 0 ? keys : keys.slice(0, dynamicAt)) as string[]
    if (name === 'secrets') {
      if (path.length === 0) return problem('name the secret: secrets.NAME (a computed name could reach any secret the workflow lists)')
      if (keys.length > 1) return problem(`secrets.${path[0]} is a string; it has no fields`)
      if (!whole) return problem(`secrets.${path[0]} can only be used whole (alone, or joined to strings with +): anything else would hide it from masking`)
    }
    if (name === 'tasks') {
      if (path.length === 0) return problem('name the task: tasks.<id>.output (a computed id cannot be checked against the task\'s needs)')
      const field = path[1]
      if (field === undefined || !(TASK_FIELDS as readonly string[]).includes(field)) {
        return problem(`expected tasks.${path[0]}.${TASK_FIELDS.join('|')}`)
      }
    }
    refs.push({ root: name, path })
  }

  walk(ast, new Set(), 0, true)
  return { refs, problems }
}
