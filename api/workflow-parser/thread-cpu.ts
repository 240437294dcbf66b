/**
 * CPU time of one thread, from /proc (Linux). The parser's deadline counts the CPU its thread used, so a
 * machine loaded by others (where the niced parser thread waits for a core) does not make a document
 * look too costly; without /proc, callers fall back to wall time.
 */
import { readFileSync } from 'node:fs'

/** USER_HZ: the unit of utime and stime in /proc/<pid>/task/<tid>/stat (100 on every Linux ABI in use). */
const TICKS_PER_SECOND = 100

/** The calling thread's id, or undefined without /proc. Synchronous, so it reads on the caller's thread. */
export function currentThreadId(): number | undefined {
  try {
    const tid = Number.parseInt(readFileSync('/proc/thread-self/stat', 'utf8'), 10)
    return Number.isInteger(tid) && tid > 0 ? tid : undefined
  } catch {
    return undefined
  }
}

/** User + system CPU milliseconds of thread `tid` of this process, or undefined when it cannot be read. */
export function threadCpuMs(tid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    // Fields after the parenthesised command name (which may contain spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12])
    return Number.isFinite(ticks) ? (ticks * 1000) / TICKS_PER_SECOND : undefined
  } catch {
    return undefined
  }
}
