/** Prometheus metrics: executions by state (from the store), engine gauges, task-duration histogram and log-line counter (from engine events). */
import type { Engine } from '../../actors/engine-types.ts'
import { systemClock, type Clock } from '../../runtime/clock.ts'
import { EXECUTION_STATES } from '../../runtime/state/states.ts'
import type { Store } from '../../runtime/store/store.ts'

/** Upper bounds of the task-duration histogram, in seconds. */
export const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900] as const

const TERMINAL_TASK = new Set(['SUCCESS', 'FAILED', 'CANCELLED', 'SKIPPED'])

/**
 * How long the executions-by-state counts are reused. /metrics needs no key, and counting is a scan of the state
 * index on the main thread (~50–160 ms at 200,000 executions): without this, anyone could stall the engine by
 * polling it. Scrapers poll every 15–60 s, so 5 s of staleness costs them nothing.
 */
export const STORE_COUNTS_TTL_MS = 5000

export class Metrics {
  private readonly started = new Map<string, number>()
  private readonly buckets = new Map<string, number[]>()
  private readonly sums = new Map<string, number>()
  private readonly counts = new Map<string, number>()
  private logLines = new Map<string, number>()
  private readonly unsubscribe?: () => void
  private counted?: { at: number; byState: Record<string, number> }

  constructor(private readonly store: Store, private readonly engine?: Engine, private readonly clock: Clock = systemClock) {
    this.unsubscribe = engine?.subscribe((e) => {
      if (e.type === 'log') this.logLines.set(e.line.level, (this.logLines.get(e.line.level) ?? 0) + 1)
      else if (e.type === 'task') {
        const key = `${e.executionId}\u0000${e.taskId}\u0000${e.attempt}`
        if (e.state === 'RUNNING') this.started.set(key, e.at)
        else if (TERMINAL_TASK.has(e.state) || e.state === 'WAITING') {
          const start = this.started.get(key)
          if (start !== undefined) {
            this.started.delete(key)
            this.observe(e.state === 'WAITING' ? 'FAILED' : e.state, (e.at - start) / 1000)
          }
        }
      }
    })
  }

  /** Records one finished task attempt of `seconds` ending in `state`. */
  observe(state: string, seconds: number): void {
    const b = this.buckets.get(state) ?? DURATION_BUCKETS.map(() => 0)
    DURATION_BUCKETS.forEach((le, i) => { if (seconds <= le) b[i] = (b[i] ?? 0) + 1 })
    this.buckets.set(state, b)
    this.sums.set(state, (this.sums.get(state) ?? 0) + seconds)
    this.counts.set(state, (this.counts.get(state) ?? 0) + 1)
  }

  /** The exposition text (format 0.0.4). */
  async render(): Promise<string> {
    const out: string[] = []
    const now = this.clock.now()
    if (!this.counted || now - this.counted.at >= STORE_COUNTS_TTL_MS || now < this.counted.at) {
      this.counted = { at: now, byState: await this.store.executions.countByState() }
    }
    const byState = this.counted.byState
    out.push('# HELP autokestra_executions Executions stored, by state.', '# TYPE autokestra_executions gauge')
    for (const s of EXECUTION_STATES) out.push(`autokestra_executions{state="${s}"} ${byState[s] ?? 0}`)
    const stats = this.engine?.stats()
    const gauge = (name: string, help: string, v: number | undefined) =>
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${v ?? 0}`)
    gauge('autokestra_queue_depth', 'Executions waiting for a slot (PENDING, queued).', stats?.queuedExecutions)
    gauge('autokestra_running_executions', 'Executions running now.', stats?.runningExecutions)
    gauge('autokestra_running_tasks', 'Task attempts running now.', stats?.runningTasks)
    gauge('autokestra_waiting_tasks', 'Tasks waiting (retry backoff or concurrency limit).', stats?.waitingTasks)
    gauge('autokestra_execution_waiters', 'Requests waiting for an execution to end (?wait=).', stats?.executionWaiters)
    gauge('autokestra_execution_workers', 'Execution worker threads alive (idle ones stop: execution.workerIdleSeconds).', stats?.workers.alive)
    gauge('autokestra_runtime_enabled', '1 when this server runs executions.', this.engine ? 1 : 0)
    out.push('# HELP autokestra_task_duration_seconds Task attempt wall time, by outcome.',
      '# TYPE autokestra_task_duration_seconds histogram')
    for (const [state, b] of this.buckets) {
      DURATION_BUCKETS.forEach((le, i) => out.push(`autokestra_task_duration_seconds_bucket{state="${state}",le="${le}"} ${b[i] ?? 0}`))
      out.push(`autokestra_task_duration_seconds_bucket{state="${state}",le="+Inf"} ${this.counts.get(state) ?? 0}`,
        `autokestra_task_duration_seconds_sum{state="${state}"} ${this.sums.get(state) ?? 0}`,
        `autokestra_task_duration_seconds_count{state="${state}"} ${this.counts.get(state) ?? 0}`)
    }
    out.push('# HELP autokestra_log_lines_total Execution log lines emitted since the server started, by level.',
      '# TYPE autokestra_log_lines_total counter')
    for (const [level, n] of this.logLines) out.push(`autokestra_log_lines_total{level="${level}"} ${n}`)
    return `${out.join('\n')}\n`
  }

  close(): void {
    this.unsubscribe?.()
  }
}
