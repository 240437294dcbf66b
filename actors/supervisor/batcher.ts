/**
 * Batches checkpoints, creations and log lines that arrive in the same event-loop turn into one commit of the
 * store (one transaction, each caller's request isolated), then tells each caller its own result (invariant 1:
 * commit before effect).
 *
 * - Log lines are taken fairly (a bounded number per execution per commit, see log-queue.ts); a transition
 *   waits only for the lines of its own execution that arrived before it, so one execution's flood delays
 *   nobody else.
 * - When the store cannot be written, checkpoints stay queued in order and are retried with backoff — their
 *   callers keep waiting, so nothing is dispatched before its transition commits — while creations fail fast.
 */

import type { Clock } from '../../runtime/clock.ts'
import { ErrorCode, toErrorInfo, type ErrorInfo } from '../../runtime/errors.ts'
import type { CommitRequest, Transition, TransitionResult } from '../../runtime/store/checkpoint.ts'
import type { Store } from '../../runtime/store/store.ts'
import type { LogRecord, NewLogLine } from '../../runtime/store/types.ts'
import { isStorageUnavailable } from '../../runtime/store/unavailable.ts'
import { LogQueue, type LogQueueOptions } from './log-queue.ts'

interface Checkpoint {
  transitions: Transition[]
  /** Answer STORAGE_UNAVAILABLE at once instead of waiting for the store (a caller that can retry, a creation). */
  failFast: boolean
  durable: boolean
  /** All or nothing (a creation with its cron fire): see CommitRequest. */
  atomic: boolean
  /** Lines of each execution named in `transitions` that were queued before it (they are written first). */
  marks: [string, number][]
  /** A barrier: committed only after every item queued before it. */
  afterAll?: boolean
  resolve(r: TransitionResult[]): void
}

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
  /** The engine's lease owner id: every commit is fenced by it (CommitBatch.owner). */
  owner?: string
  /**
   * How long log lines with no checkpoint to go with wait for one (ms; default LOG_WAIT_MS): a task's first lines
   * then ride in the commit of its SUCCESS, or of the next task's RUNNING, instead of a commit of their own.
   */
  logWaitMs?: number
}

export interface SubmitOptions {
  durable?: boolean
  failFast?: boolean
  atomic?: boolean
}

export const DEFAULT_RETRY_MS = { first: 100, max: 2000 }
export const DEFAULT_MAX_BUFFERED_LOG_LINES = 10_000
export const LOG_WAIT_MS = 20
/** Queued lines past which they are committed at once, without waiting for a checkpoint (a plugin's burst of output). */
export const LOG_WAIT_MAX_LINES = 200

export class CheckpointBatcher {
  private queue: Checkpoint[] = []
  private readonly logs: LogQueue
  /** Lines a refused commit had taken from the queue: written first by the next attempt (bounded). */
  private retryLines: NewLogLine[] = []
  /** Lines dropped per execution while the store could not be written; reported in the next commit. */
  private readonly dropped = new Map<string, number>()
  private scheduled = false
  /** Log lines are waiting (logWaitMs) for a checkpoint to be committed with. */
  private logTimer: ReturnType<typeof setTimeout> | undefined
  private readonly logWaitMs: number
  /** The commit under way: the next one starts after it, so commits (and their answers) keep their order. */
  private inFlight: Promise<void> | undefined
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private retryDelay = 0
  private failFastAll = false
  /** Shutting down and the store failed: nothing more is attempted, every request is refused at once. */
  private refused: unknown
  private readonly retryMs: { first: number; max: number }
  private readonly maxLogLines: number
  private readonly owner: string | undefined
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
    this.owner = opts.owner
    this.logWaitMs = opts.logWaitMs ?? LOG_WAIT_MS
  }

  /**
   * Commits transitions; resolves once they are committed, with one result per transition. While the store
   * cannot be written this waits (retrying) unless `failFast`, which answers STORAGE_UNAVAILABLE instead.
   * A creation is `{ atomic, failFast, durable }`: batched with the turn's other creations into one fsynced
   * commit, never waiting for the store.
   */
  submit(transitions: Transition[], opts: SubmitOptions = {}): Promise<TransitionResult[]> {
    if (this.refused !== undefined) return Promise.resolve(transitions.map(() => ({ ok: false as const, error: toErrorInfo(this.refused) })))
    const ids = new Set<string>()
    for (const t of transitions) if ('executionId' in t && t.executionId) ids.add(t.executionId)
    const marks = [...ids].map((id): [string, number] => [id, this.logs.mark(id)])
    return new Promise((resolve) => {
      const failFast = opts.failFast === true
      this.queue.push({ transitions, failFast, durable: opts.durable === true, atomic: opts.atomic === true, marks, resolve })
      this.schedule(failFast)
    })
  }

  /** Resolves once everything submitted or logged before it is committed (e.g. before recovery reads the store). */
  async barrier(): Promise<void> {
    if (this.refused !== undefined) return
    await new Promise<TransitionResult[]>((resolve) => {
      this.queue.push({ transitions: [], failFast: false, durable: false, atomic: false, marks: this.logs.marks(), afterAll: true, resolve })
      this.schedule(false)
    })
  }

  log(lines: NewLogLine[]): void {
    if (this.refused !== undefined) return this.countDropped(lines)
    this.logs.push(lines)
    // Lines alone wait a little for a checkpoint to share a commit with (each commit is a transaction on the main
    // thread); a burst goes at once, and so does whatever a commit left behind (see attempt).
    if (this.logWaitMs > 0 && this.logs.size < LOG_WAIT_MAX_LINES) this.scheduleLogs()
    else this.schedule(false)
  }

  /** Whether queued work is waiting for the store to become writable again. */
  get waitingForStore(): boolean {
    return this.retryTimer !== undefined
  }

  /**
   * Shutdown: from now on a storage fault answers every queued checkpoint with STORAGE_UNAVAILABLE, and
   * after one nothing more is attempted — what is not committed is recovered from the store on restart.
   */
  async stopWaiting(): Promise<void> {
    this.failFastAll = true
    await this.flush()
  }

  /**
   * Commits everything queued, in as many fair rounds as it takes (before shutdown). Stops early when the
   * store refuses a round: what is left is retried (or, after `stopWaiting`, refused).
   */
  async drain(): Promise<void> {
    for (;;) {
      const before = this.commits
      await this.flush()
      const left = this.queue.length > 0 || this.logs.size > 0 || this.retryLines.length > 0
      if (!left || this.commits === before || this.retryTimer !== undefined || this.refused !== undefined) return
    }
  }

  /** Commits one round now, after the one under way (a no-op while waiting out a backoff, unless shutting down). */
  async flush(): Promise<void> {
    if (this.retryTimer !== undefined && !this.failFastAll) return
    await this.attempt()
  }

  private async attempt(): Promise<void> {
    this.scheduled = false
    if (this.logTimer !== undefined) clearTimeout(this.logTimer)
    this.logTimer = undefined
    while (this.inFlight) await this.inFlight
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    const taken = this.logs.take()
    const lines = this.retryLines.length ? [...this.retryLines.splice(0), ...taken.lines] : taken.lines
    const batch: Checkpoint[] = []
    const waiting: Checkpoint[] = []
    for (const item of this.queue) {
      const ready = (!item.afterAll || waiting.length === 0) && item.marks.every(([id, mark]) => this.logs.reached(id, mark))
      ;(ready ? batch : waiting).push(item)
    }
    this.queue = waiting
    if (taken.audits.length) batch.push({ transitions: taken.audits, failFast: false, durable: false, atomic: false, marks: [], resolve: () => {} })
    if (!batch.length && !lines.length) return
    const at = this.clock.now()
    const notes = this.droppedNotes(at)
    const requests: CommitRequest[] = batch.map((item) => ({ transitions: item.transitions, ...(item.atomic ? { atomic: true } : {}) }))
    const commit = this.store.commit({
      requests, logs: notes.length ? [...lines, ...notes] : lines, durable: batch.some((i) => i.durable), at,
      ...(this.owner !== undefined ? { owner: this.owner } : {}),
    }).then(
      ({ results, logs }) => {
        this.commits++
        this.retryDelay = 0
        this.dropped.clear()
        this.answer(batch, results, logs, at)
      },
      (e: unknown) => {
        if (isStorageUnavailable(e)) return this.keepForLater(batch, lines, e)
        // Not the store and not one request (those are isolated by the store): fail the batch visibly.
        const error: ErrorInfo = { code: ErrorCode.Internal, message: e instanceof Error ? e.message : String(e) }
        this.countDropped(lines)
        this.answer(batch, batch.map((item) => item.transitions.map(() => ({ ok: false as const, error }))), [], at)
      },
    )
    this.inFlight = commit
    try {
      await commit
    } finally {
      this.inFlight = undefined
      // What is left waits for the next turn, so other work (and other executions' checkpoints) goes in between.
      if (this.queue.length > 0 || this.logs.size > 0) this.schedule(false)
    }
  }

  private answer(batch: Checkpoint[], results: TransitionResult[][], logs: LogRecord[], at: number): void {
    const applied: Committed['applied'] = []
    batch.forEach((item, i) => {
      const mine = results[i]!
      item.transitions.forEach((transition, j) => applied.push({ transition, result: mine[j]! }))
      item.resolve(mine)
    })
    this.onCommitted({ applied, logs, at })
  }

  /** One WARN line per execution that lost lines while the store could not be written. */
  private droppedNotes(at: number): NewLogLine[] {
    return [...this.dropped].map(([executionId, n]) => ({
      executionId, ts: at, level: 'WARN', source: 'engine',
      message: `${n} log line${n === 1 ? ' was' : 's were'} dropped while the store could not be written`,
    }))
  }

  /** The store refused the batch: creations and fail-fast callers hear so now; checkpoints wait, in order. */
  private keepForLater(batch: Checkpoint[], lines: NewLogLine[], error: unknown): void {
    this.failedCommits++
    const info = toErrorInfo(error)
    const kept: Checkpoint[] = []
    for (const item of batch) {
      if (item.failFast || this.failFastAll) item.resolve(item.transitions.map(() => ({ ok: false, error: info })))
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
    this.retryTimer = setTimeout(() => void this.attempt(), this.retryDelay)
  }

  private countDropped(lines: NewLogLine[]): void {
    for (const l of lines) this.dropped.set(l.executionId, (this.dropped.get(l.executionId) ?? 0) + 1)
  }

  /** A commit for queued log lines in logWaitMs, unless one is due sooner (scheduled, or a backoff's retry). */
  private scheduleLogs(): void {
    if (this.scheduled || this.logTimer !== undefined || this.retryTimer !== undefined) return
    this.logTimer = setTimeout(() => {
      this.logTimer = undefined
      this.schedule(false)
    }, this.logWaitMs)
  }

/** Next turn, unless a backoff is running; `urgent` work (a caller answered at once) tries now anyway. */
  private schedule(urgent: boolean): void {
    if (this.scheduled || (this.retryTimer !== undefined && !urgent)) return
    this.scheduled = true
    setImmediate(() => void this.attempt())
  }
}
