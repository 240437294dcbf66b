/**
 * The supervisor's queue of log lines waiting for a commit, one FIFO per execution (issue 10 finding 6):
 * each commit takes a bounded number of lines from every execution in turn, so one execution's flood
 * cannot turn a commit into a huge transaction that stalls everybody else's checkpoints. Each queue is
 * bounded; past the bound lines are dropped and counted, and one LOG_TRUNCATED line and audit event say so.
 */

import type { AuditOnly } from '../../runtime/store/checkpoint.ts'
import type { NewLogLine } from '../../runtime/store/types.ts'

/** How the queue is bounded. */
export interface LogQueueOptions {
  /** Lines of one execution per commit (default 1000). */
  perCommit?: number
  /** Lines of one execution waiting at most (default 50 000); later ones are dropped until it drains. */
  maxQueued?: number
}

interface ExecutionQueue {
  lines: NewLogLine[]
  head: number
  /** Lines accepted so far, and lines handed to a commit so far (marks compare against this). */
  accepted: number
  taken: number
  dropped: number
  /** The last dropped line: its task and attempt name the notice. */
  lastDropped?: NewLogLine
}

/** Lines and notices for one commit. */
export interface LogTake {
  lines: NewLogLine[]
  /** LOG_TRUNCATED audit events for queues that dropped lines and have drained since. */
  audits: AuditOnly[]
}

export class LogQueue {
  private readonly queues = new Map<string, ExecutionQueue>()
  private readonly perCommit: number
  private readonly maxQueued: number
  /** Lines waiting, over every execution. */
  size = 0

  constructor(opts: LogQueueOptions = {}) {
    this.perCommit = opts.perCommit ?? 1000
    this.maxQueued = opts.maxQueued ?? 50_000
  }

  push(lines: readonly NewLogLine[]): void {
    for (const line of lines) {
      let q = this.queues.get(line.executionId)
      if (!q) this.queues.set(line.executionId, (q = { lines: [], head: 0, accepted: 0, taken: 0, dropped: 0 }))
      if (q.lines.length - q.head >= this.maxQueued) {
        q.dropped++
        q.lastDropped = line
        continue
      }
      q.lines.push(line)
      q.accepted++
      this.size++
    }
  }

  /** How many lines of `executionId` were accepted so far: a transition submitted now must follow them. */
  mark(executionId: string): number {
    return this.queues.get(executionId)?.accepted ?? 0
  }

  /** The current mark of every execution with lines waiting (what a barrier must follow). */
  marks(): [string, number][] {
    return [...this.queues].map(([id, q]): [string, number] => [id, q.accepted])
  }

  /** True once every line up to `mark` has been handed to a commit. */
  reached(executionId: string, mark: number): boolean {
    const q = this.queues.get(executionId)
    return !q || q.taken >= mark
  }

  /** Up to `perCommit` lines of every execution, oldest first within each; order across executions is by arrival of their first line. */
  take(): LogTake {
    const lines: NewLogLine[] = []
    const audits: AuditOnly[] = []
    for (const [id, q] of this.queues) {
      const end = Math.min(q.lines.length, q.head + this.perCommit)
      for (let i = q.head; i < end; i++) lines.push(q.lines[i]!)
      const n = end - q.head
      q.head = end
      q.taken += n
      this.size -= n
      if (q.head === q.lines.length) {
        q.lines = []
        q.head = 0
        if (q.dropped > 0) {
          const at = q.lastDropped!
          lines.push({ ...at, level: 'WARN', source: 'engine', message: `LOG_TRUNCATED: ${q.dropped} log lines of this execution were dropped: more than ${this.maxQueued} were waiting to be written` })
          audits.push({ kind: 'audit', type: 'LOG_TRUNCATED', executionId: id, ...(at.taskId ? { taskId: at.taskId } : {}), data: { scope: 'queue', unit: 'lines', max: this.maxQueued, dropped: q.dropped } })
          q.dropped = 0
          delete q.lastDropped
        }
        // An idle execution keeps its counters only while a mark may still refer to them.
        if (q.accepted === q.taken) this.queues.delete(id)
      } else if (q.head > 4096 && q.head * 2 > q.lines.length) {
        q.lines = q.lines.slice(q.head)
        q.head = 0
      }
    }
    return { lines, audits }
  }
}
