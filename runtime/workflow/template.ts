/**
 * `{{ … }}` templates inside strings: splitting a string into text and expressions (runtime/expressions/), the
 * references they hold (for validation, and for what the engine loads), and rendering. A string that is exactly
 * one template yields the expression's value itself; otherwise values are stringified into the text.
 */
import { compileExpression, type Compiled } from '../expressions/compile.ts'
import { evaluateExpression } from '../expressions/evaluate.ts'
import { ROOTS, TEMPLATE_SCOPE, type ExpressionScope, type Root, type RootSet } from '../expressions/scope.ts'
import { AppError, ErrorCode } from '../errors.ts'
import type { Segment } from './path.ts'

/** Template roots. There is deliberately no `env` root: the engine's environment is never reachable. */
export const TEMPLATE_ROOTS = ROOTS
export type TemplateRoot = Root

/** One read of a root in a template: `{{ tasks.a.output.items[0] }}` → root `tasks`, path `['a','output','items','0']`. */
export interface TemplateRef {
  root: TemplateRoot
  /** The static part of the access (a CEL expression may go on with computed keys). */
  path: string[]
  raw: string
}

/** What a template can see while a task's inputs and env are rendered. */
export type TemplateContext = ExpressionScope

/** A malformed template inside one string. */
export interface TemplateProblem {
  raw: string
  message: string
}

type Piece = { text: string } | { expr: Compiled; raw: string } | { problem: TemplateProblem }

/** Splits one string into literal text, expressions and problems (unclosed `{{`, bad expression). */
function tokenize(s: string, set: RootSet): Piece[] {
  const pieces: Piece[] = []
  let i = 0
  while (i < s.length) {
    const open = s.indexOf('{{', i)
    if (open < 0) break
    if (open > i) pieces.push({ text: s.slice(i, open) })
    const close = s.indexOf('}}', open + 2)
    if (close < 0) {
      pieces.push({ problem: { raw: s.slice(open), message: `unclosed "{{" in "${s}"` } })
      return pieces
    }
    const raw = s.slice(open, close + 2)
    const r = compileExpression(s.slice(open + 2, close), set)
    pieces.push(r.ok ? { expr: r.expr, raw } : { problem: { raw, message: `malformed template ${raw}: ${r.message}` } })
    i = close + 2
  }
  if (i < s.length) pieces.push({ text: s.slice(i) })
  return pieces
}

/** Every reference and problem in a nested value, each with the segments of the string it sits in. */
export function scanTemplates(value: unknown, at: Segment[] = [], set: RootSet = TEMPLATE_SCOPE): {
  refs: (TemplateRef & { at: Segment[] })[]
  problems: (TemplateProblem & { at: Segment[] })[]
} {
  const refs: (TemplateRef & { at: Segment[] })[] = []
  const problems: (TemplateProblem & { at: Segment[] })[] = []
  const walk = (v: unknown, here: Segment[]): void => {
    if (typeof v === 'string') {
      if (!v.includes('{{')) return
      for (const p of tokenize(v, set)) {
        if ('expr' in p) for (const r of p.expr.refs) refs.push({ root: r.root, path: r.path, raw: p.raw, at: here })
        else if ('problem' in p) problems.push({ ...p.problem, at: here })
      }
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...here, i]))
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...here, k])
  }
  walk(value, at)
  return { refs, problems }
}

/** Every well-formed reference in strings of a nested value (objects and arrays are walked). */
export function extractTemplateRefs(value: unknown, set: RootSet = TEMPLATE_SCOPE): TemplateRef[] {
  return scanTemplates(value, [], set).refs.map(({ root, path, raw }) => ({ root, path, raw }))
}

function stringify(v: unknown): string {
  if (typeof v === 'string') return v
  if (v !== null && typeof v === 'object') return JSON.stringify(v)
  return String(v)
}

function renderPieces(pieces: readonly Piece[], ctx: TemplateContext): string {
  let out = ''
  for (const p of pieces) {
    if ('text' in p) out += p.text
    else if ('expr' in p) out += stringify(evaluateExpression(p.expr, ctx, p.raw))
    else throw new AppError(ErrorCode.TemplateError, p.problem.message, { template: p.problem.raw })
  }
  return out
}

/** Renders every template in a string; values are stringified (objects as JSON). */
export function renderString(s: string, ctx: TemplateContext, set: RootSet = TEMPLATE_SCOPE): string {
  return s.includes('{{') ? renderPieces(tokenize(s, set), ctx) : s
}

/**
 * Renders a nested value. A string that is exactly one template yields the raw value (object, number, …); any
 * other string gets the values stringified into it. Rendered values are never rendered again: a value that
 * holds `{{ … }}` (an input, an output, a webhook body) is data.
 */
export function renderValue(value: unknown, ctx: TemplateContext, set: RootSet = TEMPLATE_SCOPE): unknown {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return value
    const pieces = tokenize(value, set)
    const only = pieces.length === 1 ? pieces[0] : undefined
    if (only && 'expr' in only) return evaluateExpression(only.expr, ctx, only.raw)
    return renderPieces(pieces, ctx)
  }
  if (Array.isArray(value)) return value.map((v) => renderValue(v, ctx, set))
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderValue(v, ctx, set)]))
  }
  return value
}
