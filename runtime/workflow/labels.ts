/**
 * Labels: `key: value` strings on workflows and executions, for filtering lists. One set of rules for the YAML
 * (`labels:` on a workflow), the API's start body and the CLI's `--label k=v`, so every door refuses the same.
 */
import { setOwn } from '../own-keys.ts'
import { IssueCode } from './issues.ts'
import type { Segment } from './path.ts'
import type { RawIssue } from './schema-issues.ts'

/** Label key: starts with a letter or digit; letters, digits, `.`, `_`, `-`, `/`; 1–63 characters. */
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/
/** Characters of a label value (empty allowed). */
export const MAX_LABEL_VALUE_LENGTH = 255
/** Labels one workflow or execution may carry (after the start's labels are merged over the workflow's). */
export const MAX_LABELS = 20
// Control characters would reach terminals and logs raw, and a comma separates labels in a list filter
// (`?label=team=data,env=prod` is two labels): a label value is a short printable string without either.
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f,]/

export type Labels = Record<string, string>

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** What is wrong with one label, or undefined. */
export function labelProblem(key: string, value: unknown): string | undefined {
  if (!LABEL_KEY_PATTERN.test(key)) {
    return `invalid label key "${key.slice(0, 80)}" (1-63 letters, digits, ".", "_", "-", "/", starting with a letter or digit)`
  }
  if (typeof value !== 'string') return `label "${key}" must be a string (quote numbers and booleans: "${String(value)}")`
  if (value.length > MAX_LABEL_VALUE_LENGTH) return `label "${key}" is longer than ${MAX_LABEL_VALUE_LENGTH} characters`
  if (FORBIDDEN.test(value)) return `label "${key}" holds a comma or a control character`
  return undefined
}

/** Checks a raw `labels:` map, reporting at `at`; returns the valid labels (the invalid ones left out). */
export function normalizeLabels(raw: unknown, at: Segment[], issues: RawIssue[]): Labels {
  const out: Labels = {}
  if (raw === undefined || raw === null) return out
  if (!isMap(raw)) {
    issues.push({ at, code: IssueCode.InvalidType, message: 'labels must be a map of key → string (e.g. labels: { team: data })' })
    return out
  }
  const keys = Object.keys(raw)
  if (keys.length > MAX_LABELS) {
    issues.push({ at, code: IssueCode.TooManyLabels, message: `${keys.length} labels, more than the ${MAX_LABELS} allowed` })
  }
  for (const key of keys) {
    const problem = labelProblem(key, raw[key])
    if (problem) issues.push({ at: [...at, key], code: IssueCode.InvalidLabel, message: problem, ...(LABEL_KEY_PATTERN.test(key) ? {} : { atKey: true }) })
    else out[key] = raw[key] as string
  }
  return out
}

/** A problem with labels given at start time (API body, CLI flags): its path and message, or undefined. */
export interface LabelError {
  path: string
  code: typeof IssueCode.InvalidLabel | typeof IssueCode.TooManyLabels
  message: string
}

/**
 * Merges the labels given when an execution starts over its workflow's (the start's win), checking the given
 * ones and the total; `where` prefixes paths (`body.labels`, `--label`).
 */
export function mergeLabels(workflow: Labels | undefined, given: unknown, where: string): { labels: Labels } | { error: LabelError } {
  const labels: Labels = { ...workflow }
  if (given !== undefined && given !== null) {
    if (!isMap(given)) return { error: { path: where, code: IssueCode.InvalidLabel, message: `${where}: expected a map of key → string` } }
    for (const [key, value] of Object.entries(given)) {
      const problem = labelProblem(key, value)
      if (problem) return { error: { path: `${where}.${key}`, code: IssueCode.InvalidLabel, message: `${where}: ${problem}` } }
      labels[key] = value as string
    }
  }
  const n = Object.keys(labels).length
  if (n > MAX_LABELS) return { error: { path: where, code: IssueCode.TooManyLabels, message: `${where}: ${n} labels with the workflow's, more than the ${MAX_LABELS} allowed` } }
  return { labels }
}

/** `k=v` texts (CLI flags, query strings) → labels; the first `=` splits. Undefined entries: not `k=v`. */
export function parseLabelPairs(pairs: readonly string[]): { labels: Labels } | { bad: string } {
  const labels: Labels = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) return { bad: pair }
    setOwn(labels, pair.slice(0, eq), pair.slice(eq + 1)) // so labelProblem sees a `__proto__` key and refuses it
  }
  return { labels }
}
