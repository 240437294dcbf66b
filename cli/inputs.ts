/** `--input k=v` flags → typed inputs, coerced by the workflow's declared input types; `--label k=v` flags → labels. */
import { setOwn } from '../runtime/own-keys.ts'
import { labelProblem, parseLabelPairs, type Labels } from '../runtime/workflow/labels.ts'
import type { InputDecl } from '../runtime/workflow/model.ts'
import { usageError } from './output.ts'

/** cac gives a string for one flag and an array for several. */
export function inputFlags(v: unknown): string[] {
  if (v === undefined || v === false) return []
  return (Array.isArray(v) ? v : [v]).map(String)
}

/** Parses `k=v` pairs; each value is coerced to its declared type (undeclared: JSON if it parses, else text). */
export function parseInputs(pairs: readonly string[], decls: readonly InputDecl[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw usageError(`--input expects key=value, got "${pair}"`, { path: '--input' })
    const key = pair.slice(0, eq)
    const raw = pair.slice(eq + 1)
    const decl = decls.find((d) => d.name === key)
    setOwn(out, key, coerce(key, raw, decl?.type)) // a `__proto__` input reaches the server's check, not the prototype
  }
  return out
}

function coerce(key: string, raw: string, type: InputDecl['type'] | undefined): unknown {
  const bad = (what: string) => usageError(`--input ${key}: expected ${what}, got "${raw}"`, { path: `inputs.${key}` })
  switch (type) {
    case 'string': return raw
    case 'number': {
      const n = Number(raw)
      if (raw.trim() === '' || Number.isNaN(n)) throw bad('a number')
      return n
    }
    case 'boolean':
      if (raw === 'true') return true
      if (raw === 'false') return false
      throw bad('true or false')
    case 'object': case 'array': {
      try {
        return JSON.parse(raw)
      } catch {
        throw bad(`JSON (${type})`)
      }
    }
    default:
      try {
        return JSON.parse(raw)
      } catch {
        return raw
      }
  }
}

/** `--label k=v` flags (repeatable) → labels, each checked by the label rules; a usage error (exit 2) names a bad one. */
export function parseLabelFlags(v: unknown): Labels | undefined {
  const pairs = inputFlags(v)
  if (pairs.length === 0) return undefined
  const parsed = parseLabelPairs(pairs)
  if ('bad' in parsed) throw usageError(`--label expects key=value, got "${parsed.bad}"`, { path: '--label' })
  for (const [k, value] of Object.entries(parsed.labels)) {
    const problem = labelProblem(k, value)
    if (problem) throw usageError(`--label: ${problem}`, { path: `--label ${k}`, issue: 'INVALID_LABEL' })
  }
  return parsed.labels
}

/**
 * Parses `k=v` pairs as text, for a receiver that types them itself (an approval checks and coerces them by its
 * task's schema: "3" is 3 where the schema says integer).
 */
export function parseTextInputs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw usageError(`--input expects key=value, got "${pair}"`, { path: '--input' })
    setOwn(out, pair.slice(0, eq), pair.slice(eq + 1))
  }
  return out
}
