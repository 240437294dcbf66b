/**
 * Prometheus metrics: executions by state (from the store), engine gauges, execution and task outcomes and
 * log lines (from engine events), HTTP requests by route and status (from the request log), build info and
 * the process's own metrics. Names follow Prometheus conventions: base units, `_total` on counters.
 */
import type { Engine } from '../../actors/engine-types.ts'
import { systemClock, type Clock } from '../../runtime/clock.ts'
import { EXECUTION_STATES, isTerminalExecution } from '../../runtime/state/states.ts'
import type { Store } from '../../runtime/store/store.ts'
import { Counter, header, Histogram, labelText } from './metric-families.ts'
import { createProcessMetrics, type ProcessMetrics } from './process-metrics.ts'

/** Upper bounds of the task-duration histogram, in seconds. */
export const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900] as const

/** Upper bounds of the HTTP request-duration histogram, in seconds. */
export const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60] as const

const TERMINAL_TASK = new Set(['SUCCESS', 'FAILED', 'CANCELLED', 'SKIPPED'])
const TERMINAL_EXECUTION = EXECUTION_STATES.filter(isTerminalExecution)

/**
 * How long the executions-by-state counts are reused. /metrics needs no key, and counting is a scan of the state
 * index on the main thread (~50–160 ms at 200,000 executions): without this, anyone could stall the engine by
 * polling it. Scrapers poll every 15–60 s, so 5 s of staleness costs them nothing.
 */
export const STORE_COUNTS_TTL_MS = 5000

/** What the server is, for `autokestra_build_info`. */
export interface BuildInfo {
  version: string
}

export class Metrics {
  /** When each running task attempt started, by execution and task (one attempt of a task runs at a time). */
  private readonly started = new Map<string, number>()
  private readonly taskDuration = new Histogram('autokestra_task_duration_seconds',
    'Task attempt wall time in seconds, by outcome (an attempt that will be retried counts as FAILED).', DURATION_BUCKETS)
  private readonly executionsFinished = new Counter('autokestra_executions_finished_total',
    'Executions that reached a terminal state since the server started, by state.', TERMINAL_EXECUTION.map((state) => ({ state })))
  private readonly logLines = new Counter('autokestra_log_lines_total', 'Execution log lines emitted since the server started, by level.')
  private readonly httpRequests = new Counter('autokestra_http_requests_total',
    'HTTP requests answered, by method, route pattern and status.')
  private readonly httpDuration = new Histogram('autokestra_http_request_duration_seconds',
    'Time to answer an HTTP request in seconds (to the first byte for streams), by method, route pattern and status.', HTTP_BUCKETS)
  private readonly process: ProcessMetrics = createProcessMetrics()
  private readonly unsubscribe?: () => void
  private counted?: { at: number; byState: Record<string, number> }

  constructor(private readonly store: Store, private readonly engine?: Engine, private readonly clock: Clock = systemClock,
    private readonly build: BuildInfo = { version: '0.0.0' }) {
    this.unsubscribe = engine?.subscribe((e) => {
      if (e.type === 'log') this.logLines.inc({ level: e.line.level })
      else if (e.type === 'execution') {
        if (isTerminalExecution(e.state)) this.executionsFinished.inc({ state: e.state })
      } else if (e.type === 'task') {
        // Keyed without the attempt: a terminal transition does not carry it (its `attempt` is 0).
        const key = `${e.executionId}\u0000${e.taskId}`
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

  /** Records one finished task attempt of `seconds` ending in `outcome`. */
  observe(outcome: string, seconds: number): void {
    this.taskDuration.observe({ outcome }, seconds)
  }

  /** Records one answered HTTP request (`route` is the route's pattern, never the path a client sent). */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) }
    this.httpRequests.inc(labels)
    this.httpDuration.observe(labels, seconds)
  }

  /** The exposition text (format 0.0.4). */
  async render(): Promise<string> {
    const out: string[] = []
    const now = this.clock.now()
    if (!this.counted || now - this.counted.at >= STORE_COUNTS_TTL_MS || now < this.counted.at) {
      this.counted = { at: now, byState: await this.store.executions.countByState() }
    }
    const byState = this.counted.byState
    out.push(...header('autokestra_build_info', 'Always 1; the labels say which build is running.', 'gauge'),
      `autokestra_build_info${labelText({ version: this.build.version, bun_version: Bun.version })} 1`)
    out.push(...header('autokestra_executions', 'Executions stored, by state.', 'gauge'))
    for (const s of EXECUTION_STATES) out.push(`autokestra_executions{state="${s}"} ${byState[s] ?? 0}`)
    const stats = this.engine?.stats()
    const gauge = (name: string, help: string, v: number | undefined) => out.push(...header(name, help, 'gauge'), `${name} ${v ?? 0}`)
    gauge('autokestra_queue_depth', 'Executions waiting for a slot (PENDING, queued).', stats?.queuedExecutions)
    gauge('autokestra_running_executions', 'Executions running now.', stats?.runningExecutions)
    gauge('autokestra_running_tasks', 'Task attempts running now.', stats?.runningTasks)
    gauge('autokestra_fenced', '1 while this node is self-fenced (its lease could not be renewed: nothing runs here).', stats === undefined ? undefined : stats.fenced ? 1 : 0)
    gauge('autokestra_waiting_tasks', 'Tasks waiting (retry backoff or concurrency limit).', stats?.waitingTasks)
    gauge('autokestra_execution_waiters', 'Requests waiting for an execution to end (?wait=).', stats?.executionWaiters)
    gauge('autokestra_execution_workers', 'Execution worker threads alive (idle ones stop: execution.workerIdleSeconds).', stats?.workers.alive)
    gauge('autokestra_runtime_enabled', '1 when this server runs executions.', this.engine ? 1 : 0)
    out.push(...this.executionsFinished.render(), ...this.taskDuration.render(), ...this.logLines.render(),
      ...this.httpRequests.render(), ...this.httpDuration.render(), ...this.process.render())
    return `${out.join('\n')}\n`
  }

  close(): void {
    this.unsubscribe?.()
    this.process.stop()
  }
}
