/**
 * Evaluates a compiled expression over a scope: a path is read directly, CEL runs on metered views of the scope.
 * Never JavaScript's eval or Function: the library interprets its own syntax tree, and values from the scope are
 * only ever data — nothing read from an input, an output or a webhook body is parsed as an expression.
 */
import { AppError, ErrorCode } from '../errors.ts'
import type { Compiled } from './compile.ts'
import { Meter, ScopeViews, toJson } from './values.ts'
import type { ExpressionScope, Root } from './scope.ts'

const missing = (label: string, what = 'no such value') =>
  new AppError(ErrorCode.TemplateError, `template ${label}: ${what}`, { template: label })

/**
 * The value of `expr` over `scope`, as JSON. Throws TEMPLATE_ERROR (a missing value, a CEL error) or
 * EXPRESSION_LIMIT; `label` names the expression in messages (the template as written).
 */
export function evaluateExpression(expr: Compiled, scope: ExpressionScope, label = `{{ ${expr.source} }}`): unknown {
  if (expr.kind === 'path') return readPath(label, expr.refs[0].root, expr.refs[0].path, scope)
  const meter = new Meter()
  const views = new ScopeViews(meter)
  const ctx: Record<string, unknown> = {}
  for (const ref of expr.refs) {
    if (Object.hasOwn(ctx, ref.root)) continue
    const value = rootValue(scope, ref.root)
    if (value !== undefined) ctx[ref.root] = ref.root === 'secrets' ? secretsView(scope, expr) : views.view(value)
  }
  let result: unknown
  try {
    result = expr.run(ctx)
  } catch (e) {
    if (e instanceof AppError) throw e
    if (meter.exceeded) throw new AppError(ErrorCode.ExpressionLimit, `expression ${label} costs more than ${meter.max} units`)
    const summary = (e as { summary?: unknown }).summary
    throw missing(label, typeof summary === 'string' ? summary : e instanceof Error ? e.message : String(e))
  }
  // A quantifier may swallow the error a read over the bound threw: the bound holds whatever the result.
  if (meter.exceeded) throw new AppError(ErrorCode.ExpressionLimit, `expression ${label} costs more than ${meter.max} units`)
  return toJson(result, views, label)
}

function rootValue(scope: ExpressionScope, root: Root): unknown {
  return scope[root]
}

/** The secrets an expression names, under the names as it spells them (stored names are upper case). */
function secretsView(scope: ExpressionScope, expr: Compiled): Record<string, string> {
  const out: Record<string, string> = {}
  for (const ref of expr.refs) {
    const name = ref.path[0]
    if (ref.root !== 'secrets' || name === undefined) continue
    const value = lookupSecret(scope.secrets ?? {}, name)
    if (value !== undefined) out[name] = value
  }
  return out
}

function lookupSecret(secrets: Readonly<Record<string, string>>, name: string): string | undefined {
  if (Object.hasOwn(secrets, name)) return secrets[name]
  const upper = name.toUpperCase()
  return Object.hasOwn(secrets, upper) ? secrets[upper] : undefined
}

/** v0.1's path lookup: own properties only, any casing of a secret's name. */
function readPath(label: string, root: Root, path: readonly string[], scope: ExpressionScope): unknown {
  if (root === 'secrets') {
    const v = lookupSecret(scope.secrets ?? {}, path[0] ?? '')
    if (v === undefined) throw missing(label)
    return v
  }
  let current: unknown = rootValue(scope, root)
  for (const key of path) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) throw missing(label)
    current = (current as Record<string, unknown>)[key]
  }
  if (current === undefined) throw missing(label)
  return current
}
