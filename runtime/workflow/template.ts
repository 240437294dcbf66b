/** `{{ root.path }}` templates: extraction for validation, rendering for execution. */
import { AppError, ErrorCode } from '../errors.ts'
import type { Segment } from './path.ts'

export const TEMPLATE_ROOTS = ['inputs', 'tasks', 'secrets', 'execution'] as const
/** Template roots. There is deliberately no `env` root: the engine's environment is never reachable. */
export type TemplateRoot = (typeof TEMPLATE_ROOTS)[number]

/** One `{{ ... }}` reference: `{{ tasks.a.output.items[0] }}` → root `tasks`, path `['a','output','items','0']`. */
export interface TemplateRef {
  root: TemplateRoot
  path: string[]
  raw: string
}

/** What a template can see while a task's inputs and env are rendered. */
export interface TemplateContext {
  inputs: Record<string, unknown>
  tasks: Record<string, { output: unknown }>
  secrets: Record<string, string>
  execution: { id: string; workflowId: string; [k: string]: unknown }
}

/** A malformed template inside one string. */
export interface TemplateProblem {
  raw: string
  message: string
}

const EXPR = /^([A-Za-z_][\w-]*)((?:\.[\w-]+|\[\d+\])*)$/

type Piece = { text: string } | { ref: TemplateRef } | { problem: TemplateProblem }

/** Splits one string into literal text, references and problems (unclosed `{{`, unknown root, bad path). */
function tokenize(s: string): Piece[] {
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
    pieces.push(parseExpression(raw, s.slice(open + 2, close).trim()))
    i = close + 2
  }
  if (i < s.length) pieces.push({ text: s.slice(i) })
  return pieces
}

function parseExpression(raw: string, expr: string): Piece {
  const m = EXPR.exec(expr)
  if (!m) return { problem: { raw, message: `malformed template ${raw}: expected {{ root.path }}` } }
  const root = m[1] ?? ''
  if (!(TEMPLATE_ROOTS as readonly string[]).includes(root)) {
    return { problem: { raw, message: `unknown template root "${root}" in ${raw} (roots: ${TEMPLATE_ROOTS.join(', ')})` } }
  }
  const path = (m[2] ?? '').split(/\.|\[|\]/).filter((p) => p !== '')
  if (path.length === 0) return { problem: { raw, message: `template ${raw} needs a name after "${root}"` } }
  return { ref: { root: root as TemplateRoot, path, raw } }
}

/** Every reference and problem in a nested value, each with the segments of the string it sits in. */
export function scanTemplates(value: unknown, at: Segment[] = []): {
  refs: (TemplateRef & { at: Segment[] })[]
  problems: (TemplateProblem & { at: Segment[] })[]
} {
  const refs: (TemplateRef & { at: Segment[] })[] = []
  const problems: (TemplateProblem & { at: Segment[] })[] = []
  const walk = (v: unknown, here: Segment[]): void => {
    if (typeof v === 'string') {
      for (const p of tokenize(v)) {
        if ('ref' in p) refs.push({ ...p.ref, at: here })
        else if ('problem' in p) problems.push({ ...p.problem, at: here })
      }
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...here, i]))
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...here, k])
  }
  walk(value, at)
  return { refs, problems }
}

/** Every well-formed reference in strings of a nested value (objects and arrays are walked). */
export function extractTemplateRefs(value: unknown): TemplateRef[] {
  return scanTemplates(value).refs.map(({ root, path, raw }) => ({ root, path, raw }))
}

/** Looks a reference up in the context; throws TEMPLATE_ERROR when the value does not exist. */
export function resolveRef(ref: TemplateRef, ctx: TemplateContext): unknown {
  const missing = () => new AppError(ErrorCode.TemplateError, `template ${ref.raw}: no such value`, { template: ref.raw })
  let current: unknown = ctx[ref.root]
  for (const [i, key] of ref.path.entries()) {
    if (current === null || typeof current !== 'object') throw missing()
    const container = current as Record<string, unknown>
    // Secret names are stored upper case; accept any casing in the template.
    const k = ref.root === 'secrets' && i === 0 && !Object.hasOwn(container, key) ? key.toUpperCase() : key
    if (!Object.hasOwn(container, k)) throw missing()
    current = container[k]
  }
  if (current === undefined) throw missing()
  return current
}

function stringify(v: unknown): string {
  if (typeof v === 'string') return v
  if (v !== null && typeof v === 'object') return JSON.stringify(v)
  return String(v)
}

function renderTokens(pieces: readonly Piece[], ctx: TemplateContext): string {
  let out = ''
  for (const p of pieces) {
    if ('text' in p) out += p.text
    else if ('ref' in p) out += stringify(resolveRef(p.ref, ctx))
    else throw new AppError(ErrorCode.TemplateError, p.problem.message, { template: p.problem.raw })
  }
  return out
}

/** Renders every template in a string; values are stringified (objects as JSON). */
export function renderString(s: string, ctx: TemplateContext): string {
  return renderTokens(tokenize(s), ctx)
}

/**
 * Renders a nested value. A string that is exactly one template yields the raw value (object,
 * number, …); any other string gets the values stringified into it.
 */
export function renderValue(value: unknown, ctx: TemplateContext): unknown {
  if (typeof value === 'string') {
    // One scan: a lazy `^\{\{\s*(.*?)\s*\}\}$` regex backtracked quadratically on long whitespace runs.
    const pieces = tokenize(value)
    const only = pieces.length === 1 ? pieces[0] : undefined
    if (only && 'ref' in only) return resolveRef(only.ref, ctx)
    return renderTokens(pieces, ctx)
  }
  if (Array.isArray(value)) return value.map((v) => renderValue(v, ctx))
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderValue(v, ctx)]))
  }
  return value
}
