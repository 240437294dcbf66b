/**
 * Time query parameters (`since`, `until`): an ISO 8601 date or date-time, or a duration back from now (`30s`, `5m`,
 * `2h`, `7d`). A date must exist (no 2026-02-30) and a date-time without an offset is the server's local time;
 * anything else is INVALID_INPUT at `query.<name>`.
 */
import { parseDuration } from '../../runtime/clock.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i

/** Whether the calendar date and clock fields of an ISO match exist (Date.parse would roll 02-30 over to March). */
function fieldsExist(m: RegExpExecArray): boolean {
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const day = new Date(Date.UTC(y, mo - 1, d))
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) return false
  return m[4] === undefined || (Number(m[4]) < 24 && Number(m[5]) < 60 && (m[6] === undefined || Number(m[6]) < 60))
}

/** `text` as ms since the epoch; INVALID_INPUT naming `query.<name>` when it is neither form. */
export function parseTimeParam(name: string, text: string, now: number): number {
  const d = parseDuration(text)
  if (d !== undefined) return now - d
  const m = ISO.exec(text.trim())
  const t = m && fieldsExist(m) ? Date.parse(m[4] === undefined ? `${text.trim()}T00:00:00Z` : text.trim().replace(' ', 'T')) : Number.NaN
  if (Number.isNaN(t)) {
    throw new AppError(ErrorCode.InvalidInput,
      `query.${name}: expected an ISO 8601 time (2026-05-01, 2026-05-01T12:00:00Z) or a duration back from now (30s, 5m, 2h), got "${text.slice(0, 100)}"`,
      { path: `query.${name}` })
  }
  return t
}

/** `since` and `until` of a list, checked together: until must be later than since. */
export function timeRange(q: { since?: string; until?: string }, now: number): { since?: number; until?: number } {
  const since = q.since !== undefined ? parseTimeParam('since', q.since, now) : undefined
  const until = q.until !== undefined ? parseTimeParam('until', q.until, now) : undefined
  if (since !== undefined && until !== undefined && until <= since) {
    throw new AppError(ErrorCode.InvalidInput, `query.until: must be later than query.since (${new Date(since).toISOString()})`, { path: 'query.until' })
  }
  return { ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}) }
}
