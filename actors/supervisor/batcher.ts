/**
 * Batches checkpoints and log lines that arrive in the same event-loop turn into one SQLite
 * transaction, then tells each caller its own result (invariant 1: commit before effect).
 */

import type { Clock } from '../../runtime/clock.ts'
import { ErrorCode, toErrorInfo } from '../../runtime/errors.ts'
import type { Transition, TransitionResult } from '../../runtime/store/checkpoint.ts'
import type { Store } from '../../runtime/store/store.ts'
import type { LogRecord, NewLogLine } from '../../runtime/store/types.ts'

interface Pending {
  transitions: Transition[]
  resolve(r: TransitionResult[]): void
}

export interface Committed {
  applied: { transition: Transition; result: TransitionResult }[]
  logs: LogRecord[]
  at: number
}

export class CheckpointBatcher {
  private pending: Pending[] = []
  private logs: NewLogLine[] = []
  private scheduled = false
  /** Transactions committed so far (for the batching benchmark and tests). */
  commits = 0

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly onCommitted: (c: Committed) => void,
  ) {}

  submit(transitions: Transition[]): Promise<TransitionResult[]> {
    return new Promise((resolve) => {
      this.pending.push({ transitions, resolve })
      this.schedule()
    })
  }

  log(lines: NewLogLine[]): void {
    for (const l of lines) this.logs.push(l)
    this.schedule()
  }

  /** Commits whatever is queued now (also used before shutdown). */
  flush(): void {
    this.scheduled = false
    const batch = this.pending.splice(0)
    const lines = this.logs.splice(0)
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
