/**
 * Batches checkpoints and log lines that arrive in the same event-loop turn into one SQLite
 * transaction, then tells each caller its own result (invariant 1: commit before effect). Log lines are
 * taken fairly (a bounded number per execution per commit, see log-queue.ts); a transition waits only for
 * the lines of its own execution that arrived before it, so one execution's flood delays nobody else.
 */

import type { Clock } from '../../runtime/clock.ts'
import { ErrorCode, toErrorInfo } from '../../runtime/errors.ts'
import type { Transition, TransitionResult } from '../../runtime/store/checkpoint.ts'
import type { Store } from '../../runtime/store/store.ts'
import type { LogRecord, NewLogLine } from '../../runtime/store/types.ts'
import { LogQueue, type LogQueueOptions } from './log-queue.ts'

interface Pending {
  transitions: Transition[]
  resolve(r: TransitionResult[]): void
  /** Lines of each execution named in `transitions` that were queued before it (they are written first). */
  marks: [string, number][]
}

export interface Committed {
  applied: { transition: Transition; result: TransitionResult }[]
  logs: LogRecord[]
  at: number
}

export class CheckpointBatcher {
  private pending: Pending[] = []
  private readonly logs: LogQueue
  private scheduled = false
  /** Transactions committed so far (for the batching benchmark and tests). */
  commits = 0

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly onCommitted: (c: Committed) => void,
    logQueue: LogQueueOptions = {},
  ) {
    this.logs = new LogQueue(logQueue)
  }

  submit(transitions: Transition[]): Promise<TransitionResult[]> {
    const ids = new Set<string>()
    for (const t of transitions) if (t.executionId) ids.add(t.executionId)
    const marks = [...ids].map((id): [string, number] => [id, this.logs.mark(id)])
    return new Promise((resolve) => {
      this.pending.push({ transitions, resolve, marks })
      this.schedule()
    })
  }

  log(lines: NewLogLine[]): void {
    this.logs.push(lines)
    this.schedule()
  }

  /** Commits everything queued, in as many fair rounds as it takes (before shutdown, and before recovery reads). */
  drain(): void {
    do this.flush()
    while (this.pending.length > 0 || this.logs.size > 0)
  }

  /** Commits one round: every transition whose earlier lines are written by then, and a fair share of lines. */
  flush(): void {
    this.scheduled = false
    const taken = this.logs.take()
    const lines = taken.lines
    const batch: Pending[] = []
    const waiting: Pending[] = []
    for (const p of this.pending) (p.marks.every(([id, mark]) => this.logs.reached(id, mark)) ? batch : waiting).push(p)
    this.pending = waiting
    if (taken.audits.length) batch.push({ transitions: taken.audits, resolve: () => {}, marks: [] })
    // What is left waits for the next turn, so other work (and other executions' checkpoints) goes in between.
    if (this.pending.length > 0 || this.logs.size > 0) this.schedule()
    if (!batch.length && !lines.length) return
    const at = this.clock.now()
    let results: TransitionResult[][]
    let logs: LogRecord[] = []
    try {
      ;[results, logs] = this.store.transaction(() => {
        const r = batch.map((b) => this.store.checkpoints.apply(b.transitions, at))
        return [r, this.store.logs.append(lines)] as const
      })
      this.commits++
    } catch {
      // One failing request (or a busy database) must not fail its neighbours: commit each on its own.
      results = batch.map((b) => {
        try {
          const r = this.store.checkpoints.apply(b.transitions, at)
          this.commits++
          return r
        } catch (e) {
          const error = { ...toErrorInfo(e), code: ErrorCode.Internal }
          return b.transitions.map(() => ({ ok: false as const, error }))
        }
      })
      try {
        logs = this.store.transaction(() => this.store.logs.append(lines))
      } catch {
        logs = [] // only when the store cannot be written at all
      }
    }
    const applied = batch.flatMap((b, i) => b.transitions.map((transition, j) => ({ transition, result: results[i]![j]! })))
    batch.forEach((b, i) => b.resolve(results[i]!))
    this.onCommitted({ applied, logs, at })
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => this.flush())
  }
}
