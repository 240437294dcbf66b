/** Human formatting helpers: durations, times, state colours. */
import { colors } from '../output.ts'

/** `850ms`, `12.3s`, `4m 05s`, `2h 03m`. */
export function humanDuration(ms: number | undefined): string {
  if (ms === undefined) return '-'
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  const s = Math.floor(ms / 1000)
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

/** ISO time without milliseconds, or `-`. */
export function humanTime(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** A state painted by meaning (only on a TTY without NO_COLOR). */
export function paintState(state: string): string {
  switch (state) {
    case 'SUCCESS': return colors.green(state)
    case 'FAILED': return colors.red(state)
    case 'CANCELLED': case 'SKIPPED': return colors.gray(state)
    case 'RUNNING': return colors.blue(state)
    case 'WAITING': case 'PENDING': return colors.yellow(state)
    default: return state
  }
}

/** A log level painted by severity. */
export function paintLevel(level: string): string {
  return level === 'ERROR' ? colors.red(level) : level === 'WARN' ? colors.yellow(level) : level === 'DEBUG' ? colors.gray(level) : level
}
