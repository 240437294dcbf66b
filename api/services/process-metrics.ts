/**
 * The server process's own metrics under the names every Prometheus client library uses (`process_*`: resident
 * memory, CPU seconds, open and maximum file descriptors, start time), and the main thread's event-loop lag,
 * measured by a timer that notes how late it fires.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { header, sampleValue } from './metric-families.ts'

/** How often the lag probe fires. Its lateness is the lag: the time a timer waited behind other work. */
export const LAG_PROBE_MS = 500

export interface ProcessMetrics {
  render(): string[]
  stop(): void
}

/** Open file descriptors (Linux /proc; undefined elsewhere). The directory listing's own descriptor is not counted. */
function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length - 1
  } catch {
    return undefined
  }
}

/** The soft limit on open files (Linux /proc; undefined elsewhere or when unlimited). */
function maxFds(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0]
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft)
  } catch {
    return undefined
  }
}

/** Starts the lag probe (its timer never keeps the process alive); `stop` clears it. */
export function createProcessMetrics(): ProcessMetrics {
  let lagSeconds = 0
  let maxLagSeconds = 0
  let expected = performance.now() + LAG_PROBE_MS
  const timer = setInterval(() => {
    const now = performance.now()
    lagSeconds = Math.max(0, now - expected) / 1000
    maxLagSeconds = Math.max(maxLagSeconds, lagSeconds)
    expected = now + LAG_PROBE_MS
  }, LAG_PROBE_MS)
  timer.unref?.()
  const gauge = (name: string, help: string, v: number | undefined) =>
    v === undefined ? [] : [...header(name, help, 'gauge'), `${name} ${sampleValue(v)}`]
  return {
    render() {
      const cpu = process.cpuUsage()
      const mem = process.memoryUsage()
      const seenMax = maxLagSeconds
      maxLagSeconds = lagSeconds
      return [
        ...header('process_cpu_seconds_total', 'User and system CPU time the server process spent, in seconds.', 'counter'),
        `process_cpu_seconds_total ${sampleValue((cpu.user + cpu.system) / 1e6)}`,
        ...gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', mem.rss),
        ...gauge('process_heap_bytes', 'JavaScript heap in use, in bytes.', mem.heapUsed),
        ...gauge('process_open_fds', 'Open file descriptors.', openFds()),
        ...gauge('process_max_fds', 'The limit on open file descriptors.', maxFds()),
        ...gauge('process_start_time_seconds', 'When the process started, in seconds since the Unix epoch.', Math.round(performance.timeOrigin / 1000)),
        ...gauge('autokestra_event_loop_lag_seconds', `How late the main thread's ${LAG_PROBE_MS} ms probe timer last fired, in seconds.`, lagSeconds),
        ...gauge('autokestra_event_loop_lag_max_seconds', 'The largest event-loop lag seen since the previous scrape, in seconds.', seenMax),
      ]
    },
    stop() {
      clearInterval(timer)
    },
  }
}
