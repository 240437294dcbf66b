/**
 * When a process started (clock ticks since boot, field 22 of /proc/<pid>/stat), read from this process's /proc: with
 * the pid and the pid namespace both were read in, it tells one process from a later one that reuses its pid.
 */
import { readFileSync } from 'node:fs'

/** Start time of process `pid` (or this one) as seen here; '' when it cannot be read (no such process, no /proc). */
export function processStartTicks(pid: number | 'self' = 'self'): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? ''
  } catch { return '' }
}
