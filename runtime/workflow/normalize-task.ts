/** Structure check and normalisation of one task item (durations to ms, `needs` to a list, retry defaults). */
import { parseDuration } from '../clock.ts'
import type { PermissionSet, RetryPolicy, TaskDef } from './model.ts'
import type { Segment } from './path.ts'
import { schemaIssues, type RawIssue } from './schema-issues.ts'
import { RawTask, type RawRetry } from './schema.ts'

/** Retry backoff when a task gives only `retry.max`. */
export const DEFAULT_BACKOFF_DELAY = '1s'

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** Parses a duration field, reporting INVALID_DURATION at `at`; zero and negative durations are rejected. */
export function durationAt(value: unknown, at: Segment[], issues: RawIssue[]): number | undefined {
  if (typeof value !== 'string') return undefined // a type error was already reported by the schema
  const ms = parseDuration(value)
  if (ms === undefined || ms <= 0) {
    issues.push({ at, code: 'INVALID_DURATION', message: `invalid duration "${value}" (expected e.g. 250ms, 30s, 5m, 1h, 1d)` })
    return undefined
  }
  return ms
}

/** A normalised task plus where each `needs` entry came from; undefined when the item is not a map. */
export function normalizeTask(
  item: unknown,
  at: Segment[],
  issues: RawIssue[],
): { task: TaskDef; needsAt: Segment[][] } | undefined {
  if (!isMap(item)) {
    issues.push({ at, code: 'INVALID_TYPE', message: 'expected a task (a map with id and type)' })
    return undefined
  }
  issues.push(...schemaIssues(RawTask, item, at))
  const task: TaskDef = {
    id: typeof item.id === 'string' ? item.id : '',
    type: typeof item.type === 'string' ? item.type : '',
    needs: [],
    inputs: isMap(item.inputs) ? item.inputs : {},
  }
  const needsAt: Segment[][] = []
  if (typeof item.needs === 'string') {
    task.needs.push(item.needs)
    needsAt.push([...at, 'needs'])
  } else if (Array.isArray(item.needs)) {
    item.needs.forEach((n, j) => {
      if (typeof n !== 'string') return
      task.needs.push(n)
      needsAt.push([...at, 'needs', j])
    })
  }
  const retry = normalizeRetry(item.retry, [...at, 'retry'], issues)
  if (retry) task.retry = retry
  const timeoutMs = durationAt(item.timeout, [...at, 'timeout'], issues)
  if (timeoutMs !== undefined) task.timeoutMs = timeoutMs
  if (typeof item.runner === 'string') task.runner = item.runner
  if (isMap(item.permissions)) task.permissions = item.permissions as PermissionSet
  if (isMap(item.env)) {
    task.env = Object.fromEntries(Object.entries(item.env).filter((e): e is [string, string] => typeof e[1] === 'string'))
  }
  return { task, needsAt }
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
        issues.push({ at: [...at, 'backoff', 'maxDelay'], code: 'INVALID_DURATION', message: 'maxDelay must not be shorter than delay' })
      }
      policy.backoff.maxDelayMs = maxDelayMs
    }
  }
  return policy
}
