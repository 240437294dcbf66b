/**
 * Engine identity for execution ownership: `host/pid/start-time`. An execution is recovered by an engine
 * only when the engine that owns it is gone — so a restart after `kill -9` resumes everything, while a
 * second engine on the same database file leaves the first one's live executions alone.
 */

import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'

/** The process start time (clock ticks since boot), which tells a live pid from a reused one. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 22; the command name (field 2) may hold spaces, so count from its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/** This engine process's owner token. */
export function currentOwner(): string {
  return `${hostname()}/${process.pid}/${startTime(process.pid) ?? '0'}`
}

/**
 * Whether the engine behind `token` still runs. An owner on another host cannot be checked and counts as
 * alive (SQLite files are not meant to be shared across hosts); a malformed token counts as gone.
 */
export function ownerAlive(token: string): boolean {
  const [host, pid, start] = token.split('/')
  if (!host || !pid || start === undefined) return false
  if (host !== hostname()) return true
  return startTime(Number(pid)) === start
}
