/**
 * The fields every task has, whatever its kind — `id`, `description`, `needs`, `retry`, `timeout`, `if`,
 * `allowFailure`, `forEach` with its `concurrency` — and their normalisation (durations to ms, `needs` to a list,
 * retry defaults, `if:` and `forEach:` to their expressions). Modifiers that apply to any kind belong here, not in a kind.
 */
import { Type, type TProperties } from '@sinclair/typebox'
import { parseDuration } from '../../clock.ts'
import { IssueCode } from '../issues.ts'
import type { RetryPolicy, TaskCommon } from '../model.ts'
import type { Segment } from '../path.ts'
import type { RawIssue } from '../schema-issues.ts'
import { RawRetry } from '../schema.ts'
import { FILE_FIELDS, normalizeFiles } from './files.ts'

/** Retry backoff when a task gives only `retry.max`. */
export const DEFAULT_BACKOFF_DELAY = '1s'

const Str = Type.String()

/** TypeBox fields shared by every kind (a kind adds its own: `TaskKind.fields`). */
export const COMMON_FIELDS = {
  id: Str,
  description: Type.Optional(Str),
  needs: Type.Optional(Type.Union([Str, Type.Array(Str)])),
  retry: Type.Optional(RawRetry),
  timeout: Type.Optional(Str),
  allowFailure: Type.Optional(Type.Boolean()),
  /** A CEL boolean, bare or as one `{{ … }}` (YAML's `true`/`false` too). */
  if: Type.Optional(Type.Union([Str, Type.Boolean()])),
  /** A CEL list, bare or as one `{{ … }}`: one run of the task per element (`id[i]`), with `item` and `index` in scope. */
  forEach: Type.Optional(Str),
  /** How many iterations of a forEach run at once (default 1). */
  concurrency: Type.Optional(Type.Integer()),
  /** Files kept after a successful attempt, and files of upstream tasks placed before it starts (tasks/files.ts). */
  ...FILE_FIELDS,
} satisfies TProperties

/** Bounds of a forEach task's `concurrency`. */
export const FOR_EACH_CONCURRENCY = { min: 1, max: 10_000 } as const

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** Parses a duration field, reporting INVALID_DURATION at `at`; zero and negative durations are rejected. */
export function durationAt(value: unknown, at: Segment[], issues: RawIssue[]): number | undefined {
  if (typeof value !== 'string') return undefined // a type error was already reported by the schema
  const ms = parseDuration(value)
  if (ms === undefined || ms <= 0) {
    issues.push({ at, code: IssueCode.InvalidDuration, message: `invalid duration "${value}" (expected e.g. 250ms, 30s, 5m, 1h, 1d)` })
    return undefined
  }
  return ms
}

/** The common part of a task, plus where each `needs` entry came from. */
export function normalizeCommon(item: Readonly<Record<string, unknown>>, at: Segment[], issues: RawIssue[]): { common: TaskCommon; needsAt: Segment[][] } {
  const common: TaskCommon = { id: typeof item.id === 'string' ? item.id : '', needs: [] }
  const needsAt: Segment[][] = []
  if (typeof item.needs === 'string') {
    common.needs.push(item.needs)
    needsAt.push([...at, 'needs'])
  } else if (Array.isArray(item.needs)) {
    item.needs.forEach((n, j) => {
      if (typeof n !== 'string') return
      common.needs.push(n)
      needsAt.push([...at, 'needs', j])
    })
  }
  const retry = normalizeRetry(item.retry, [...at, 'retry'], issues)
  if (retry) common.retry = retry
  const timeoutMs = durationAt(item.timeout, [...at, 'timeout'], issues)
  if (timeoutMs !== undefined) common.timeoutMs = timeoutMs
  if (item.allowFailure === true) common.allowFailure = true
  const condition = conditionOf(item.if, [...at, 'if'], issues)
  if (condition !== undefined) common.if = condition
  const forEach = expressionOf('forEach', item.forEach, [...at, 'forEach'], issues)
  if (forEach !== undefined) common.forEach = forEach
  if (typeof item.concurrency === 'number') {
    const { min, max } = FOR_EACH_CONCURRENCY
    if (item.forEach === undefined) {
      issues.push({ at: [...at, 'concurrency'], code: IssueCode.InvalidValue, message: 'concurrency applies to the iterations of a forEach task; this task has no forEach' })
    } else if (item.concurrency < min || item.concurrency > max) {
      issues.push({ at: [...at, 'concurrency'], code: IssueCode.InvalidValue, message: `concurrency must be between ${min} and ${max}, not ${item.concurrency}` })
    } else common.concurrency = item.concurrency
  }
  const files = normalizeFiles(item, at, issues)
  if (files) common.files = files
  return { common, needsAt }
}

/**
 * `if:` as the expression it holds: bare (`size(tasks.a.output.items) > 0`), or one template
 * (`{{ inputs.enabled }}`); a boolean is its CEL literal. Text around a template is refused: a condition is one
 * expression, not a string.
 */
export function conditionOf(value: unknown, at: Segment[], issues: RawIssue[]): string | undefined {
  if (typeof value === 'boolean') return String(value)
  return expressionOf('if', value, at, issues)
}

/** A field that is one expression (`if:`, `forEach:`), bare or as one `{{ … }}`: the expression's text. */
function expressionOf(field: string, value: unknown, at: Segment[], issues: RawIssue[]): string | undefined {
  if (typeof value !== 'string') return undefined
  const s = value.trim()
  const open = s.indexOf('{{')
  if (open < 0) return s
  const close = s.indexOf('}}', open + 2)
  if (open === 0 && close === s.length - 2) return s.slice(2, -2).trim()
  issues.push({ at, code: IssueCode.InvalidTemplate, message: `${field}: is one expression, written bare or as one {{ … }} (got "${value}")` })
  return undefined
}

/** `retry: {max, backoff?}` → RetryPolicy; backoff defaults to fixed 1s. */
function normalizeRetry(value: unknown, at: Segment[], issues: RawIssue[]): RetryPolicy | undefined {
  if (!isMap(value) || typeof value.max !== 'number' || !Number.isInteger(value.max) || value.max < 0) return undefined
  const raw = value as RawRetry
  const backoff = raw.backoff ?? {}
  const delayMs = durationAt(backoff.delay ?? DEFAULT_BACKOFF_DELAY, [...at, 'backoff', 'delay'], issues) ?? 1000
  const policy: RetryPolicy = {
    max: raw.max,
    backoff: { type: backoff.type === 'exponential' ? 'exponential' : 'fixed', delayMs },
  }
  if (backoff.maxDelay !== undefined) {
    const maxDelayMs = durationAt(backoff.maxDelay, [...at, 'backoff', 'maxDelay'], issues)
    if (maxDelayMs !== undefined) {
      if (maxDelayMs < delayMs) {
        issues.push({ at: [...at, 'backoff', 'maxDelay'], code: IssueCode.InvalidDuration, message: 'maxDelay must not be shorter than delay' })
      }
      policy.backoff.maxDelayMs = maxDelayMs
    }
  }
  return policy
}
