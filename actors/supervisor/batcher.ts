/**
 * Batches checkpoints, creations and log lines that arrive in the same event-loop turn into one SQLite
 * transaction, then tells each caller its own result (invariant 1: commit before effect).
 *
 * - Log lines are taken fairly (a bounded number per execution per commit, see log-queue.ts); a transition
 *   waits only for the lines of its own execution that arrived before it, so one execution's flood delays
 *   nobody else.
 * - When the store cannot be written, checkpoints stay queued in order and are retried with backoff — their
 *   callers keep waiting, so nothing is dispatched before its transition commits — while creations fail fast.
 */

import type { Clock } from '../../runtime/clock.ts'
import { ErrorCode, toErrorInfo, type ErrorInfo } from '../../runtime/errors.ts'
import type { Transition, TransitionResult } from '../../runtime/store/checkpoint.ts'
import { isStorageFault, translateStorageFault } from '../../runtime/store/sqlite/faults.ts'
import type { Store } from '../../runtime/store/sqlite/legacy.ts'
import type { LogRecord, NewLogLine } from '../../runtime/store/types.ts'
import { LogQueue, type LogQueueOptions } from './log-queue.ts'

interface Checkpoint {
  kind: 'checkpoint'
  transitions: Transition[]
  /** Answer STORAGE_UNAVAILABLE at once instead of waiting for the store (a caller that can retry). */
  failFast: boolean
  durable: boolean
  /** Lines of each execution named in `transitions` that were queued before it (they are written first). */
  marks: [string, number][]
  /** A barrier: committed only after every item queued before it. */
  afterAll?: boolean
  resolve(r: TransitionResult[]): void
}

interface Write {
  kind: 'write'
  run(at: number): unknown
  durable: boolean
  resolve(value: unknown): void
  reject(error: unknown): void
}

type Item = Checkpoint | Write

export interface Committed {
  applied: { transition: Transition; result: TransitionResult }[]
  logs: LogRecord[]
  at: number
}

export interface BatcherOptions extends LogQueueOptions {
  /** First and longest wait between two attempts while the store cannot be written. */
  retryMs?: { first: number; max: number }
  /** Log lines kept while the store cannot be written; later ones are dropped and counted. */
  maxBufferedLogLines?: number
}

export const DEFAULT_RETRY_MS = { first: 100, max: 2000 }
export const DEFAULT_MAX_BUFFERED_LOG_LINES = 10_000

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown }

export class CheckpointBatcher {
  private queue: Item[] = []
  private readonly logs: LogQueue
  /** Lines a refused commit had taken from the queue: written first by the next attempt (bounded). */
  private retryLines: NewLogLine[] = []
  /** Lines dropped per execution while the store could not be written; reported in the next commit. */
  private readonly dropped = new Map<string, number>()
  private scheduled = false
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private retryDelay = 0
  private failFastAll = false
  /** Shutting down and the store failed: nothing more is attempted, every request is refused at once. */
  private refused: unknown
  private readonly retryMs: { first: number; max: number }
  private readonly maxLogLines: number
  /** Transactions committed so far (for the batching benchmark and tests). */
  commits = 0
  /** Attempts the store refused (storage faults). */
  failedCommits = 0

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly onCommitted: (c: Committed) => void,
    opts: BatcherOptions = {},
  ) {
    this.logs = new LogQueue(opts)
    this.retryMs = opts.retryMs ?? DEFAULT_RETRY_MS
    this.maxLogLines = opts.maxBufferedLogLines ?? DEFAULT_MAX_BUFFERED_LOG_LINES
  }

  /**
   * Commits transitions; resolves once they are committed, with one result per transition. While the store
   * cannot be written this waits (retrying) unless `failFast`, which answers STORAGE_UNAVAILABLE instead.
   */
  submit(transitions: Transition[], opts: { durable?: boolean; failFast?: boolean } = {}): Promise<TransitionResult[]> {
    if (this.refused !== undefined) return Promise.resolve(transitions.map(() => ({ ok: false as const, error: toErrorInfo(this.refused) })))
    const ids = new Set<string>()
    for (const t of transitions) if (t.executionId) ids.add(t.executionId)
    const marks = [...ids].map((id): [string, number] => [id, this.logs.mark(id)])
    return new Promise((resolve) => {
      const failFast = opts.failFast === true
      this.queue.push({ kind: 'checkpoint', transitions, failFast, durable: opts.durable === true, marks, resolve })
      this.schedule(failFast)
    })
  }

  /** Resolves once everything submitted or logged before it is committed (e.g. before recovery reads the store). */
  async barrier(): Promise<void> {
    if (this.refused !== undefined) return
    await new Promise<TransitionResult[]>((resolve) => {
      this.queue.push({ kind: 'checkpoint', transitions: [], failFast: false, durable: false, marks: this.logs.marks(), afterAll: true, resolve })
      this.schedule(false)
    })
  }

  /**
   * Runs `run` inside the next batch's transaction (in its own savepoint, so a throw rolls back only its
   * own writes) and resolves with its value once committed. Never waits for the store: a storage fault
   * rejects with STORAGE_UNAVAILABLE. `durable` makes the batch fsync before anyone hears of it.
   */
  write<T>(run: (at: number) => T, opts: { durable?: boolean } = {}): Promise<T> {
    if (this.refused !== undefined) return Promise.reject(this.refused)
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ kind: 'write', run, durable: opts.durable === true, resolve: (v) => resolve(v as T), reject })
      this.schedule(true)
    })
  }

  log(lines: NewLogLine[]): void {
    if (this.refused !== undefined) return this.countDropped(lines)
    this.logs.push(lines)
    this.schedule(false)
  }

  /** Whether queued work is waiting for the store to become writable again. */
  get waitingForStore(): boolean {
    return this.retryTimer !== undefined
  }

  /**
   * Shutdown: from now on a storage fault answers every queued checkpoint with STORAGE_UNAVAILABLE, and
   * after one nothing more is attempted — what is not committed is recovered from the store on restart.
   */
  stopWaiting(): void {
    this.failFastAll = true
    this.flush()
  }

  /**
   * Commits everything queued, in as many fair rounds as it takes (before shutdown). Stops early when the
   * store refuses a round: what is left is retried (or, after `stopWaiting`, refused).
   */
  drain(): void {
    for (;;) {
      const before = this.commits
      this.flush()
      const left = this.queue.length > 0 || this.logs.size > 0 || this.retryLines.length > 0
      if (!left || this.commits === before || this.retryTimer !== undefined || this.refused !== undefined) return
    }
  }

  /** Commits one round now (a no-op while waiting out a backoff, unless shutting down). */
  flush(): void {
    if (this.retryTimer !== undefined && !this.failFastAll) return
    this.attempt()
  }

  private attempt(): void {
    this.scheduled = false
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    const taken = this.logs.take()
    const lines = this.retryLines.length ? [...this.retryLines.splice(0), ...taken.lines] : taken.lines
    const batch: Item[] = []
    const waiting: Item[] = []
    for (const item of this.queue) {
      const ready = item.kind === 'write' ||
        ((!item.afterAll || waiting.length === 0) && item.marks.every(([id, mark]) => this.logs.reached(id, mark)))
      ;(ready ? batch : waiting).push(item)
    }
    this.queue = waiting
    if (taken.audits.length) batch.push({ kind: 'checkpoint', transitions: taken.audits, failFast: false, durable: false, marks: [], resolve: () => {} })
    // What is left waits for the next turn, so other work (and other executions' checkpoints) goes in between.
    if (this.queue.length > 0 || this.logs.size > 0) this.schedule(false)
    if (!batch.length && !lines.length) return
    const at = this.clock.now()
    let outcomes: Outcome[]
    let logs: LogRecord[]
    try {
      ;[outcomes, logs] = this.store.transaction(() => {
        const o = batch.map((item) => this.runItem(item, at))
        return [o, this.appendLogs(lines, at)] as const
      }, { durable: batch.some((i) => i.durable) })
      this.commits++
      this.retryDelay = 0
    } catch (e) {
      if (isStorageFault(e)) return this.keepForLater(batch, lines, e)
      // Not the store and not one request (those are contained in their savepoints): fail the batch visibly.
      const error: ErrorInfo = { ...toErrorInfo(e), code: ErrorCode.Internal }
      outcomes = batch.map((item) => ({ ok: false, error: item.kind === 'write' ? e : error }))
      logs = []
      this.countDropped(lines)
    }
    const applied: Committed['applied'] = []
    batch.forEach((item, i) => {
      const o = outcomes[i]!
      if (item.kind === 'write') return o.ok ? item.resolve(o.value) : item.reject(o.error)
      const results = o.ok ? (o.value as TransitionResult[]) : item.transitions.map(() => ({ ok: false as const, error: o.error as ErrorInfo }))
      item.transitions.forEach((transition, j) => applied.push({ transition, result: results[j]! }))
      item.resolve(results)
    })
    this.onCommitted({ applied, logs, at })
  }

  /** One request in its own savepoint: its failure is its own, unless the store itself failed. */
  private runItem(item: Item, at: number): Outcome {
    try {
      if (item.kind === 'checkpoint') return { ok: true, value: this.store.checkpoints.apply(item.transitions, at) }
      return { ok: true, value: this.store.db.transaction(() => item.run(at))() }
    } catch (e) {
      // A storage fault (or SQLite rolling the whole transaction back) aborts the batch: retried as one.
      if (isStorageFault(e) || !this.store.db.inTransaction) throw e
      if (item.kind === 'write') return { ok: false, error: e }
      return { ok: false, error: { ...toErrorInfo(e), code: ErrorCode.Internal } }
    }
  }

  private appendLogs(lines: NewLogLine[], at: number): LogRecord[] {
    const notes: NewLogLine[] = [...this.dropped].map(([executionId, n]) => ({
      executionId, ts: at, level: 'WARN', source: 'engine',
      message: `${n} log line${n === 1 ? ' was' : 's were'} dropped while the store could not be written`,
    }))
    const out = this.store.logs.append(notes.length ? [...lines, ...notes] : lines)
    this.dropped.clear()
    return out
  }

  /** The store refused the batch: creations and fail-fast callers hear so now; checkpoints wait, in order. */
  private keepForLater(batch: Item[], lines: NewLogLine[], fault: unknown): void {
    this.failedCommits++
    const error = translateStorageFault(fault)
    const info = toErrorInfo(error)
    const kept: Item[] = []
    for (const item of batch) {
      if (item.kind === 'write') item.reject(error)
      else if (item.failFast || this.failFastAll) item.resolve(item.transitions.map(() => ({ ok: false, error: info })))
      else kept.push(item)
    }
    this.queue.unshift(...kept)
    // The lines already taken go first next time; past the bound they are dropped and counted.
    this.retryLines = lines.slice(0, this.maxLogLines)
    this.countDropped(lines.slice(this.maxLogLines))
    if (this.failFastAll) {
      this.refused = error
      this.countDropped(this.retryLines.splice(0))
      return
    }
    this.retryDelay = this.retryDelay ? Math.min(this.retryDelay * 2, this.retryMs.max) : this.retryMs.first
    this.retryTimer = setTimeout(() => this.attempt(), this.retryDelay)
  }

  private countDropped(lines: NewLogLine[]): void {
    for (const l of lines) this.dropped.set(l.executionId, (this.dropped.get(l.executionId) ?? 0) + 1)
  }

  /** Next turn, unless a backoff is running; `urgent` work (a caller answered at once) tries now anyway. */
  private schedule(urgent: boolean): void {
    if (this.scheduled || (this.retryTimer !== undefined && !urgent)) return
    this.scheduled = true
    setImmediate(() => this.attempt())
  }
}
