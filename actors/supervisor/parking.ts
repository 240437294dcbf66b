/**
 * Parked executions: one whose every unfinished run waits for a time or a decision (a `wait`, an approval) leaves
 * its worker and its place among `execution.maxConcurrentWorkflows`, WAITING in the store. It is queued again at
 * its earliest stored time — a wake-up, an approval's deadline, the workflow's timeout — or at once for a decision
 * or a cancel. After a restart nothing is lost: recovery queues WAITING executions, and they park again.
 */
import type { Clock } from '../../runtime/clock.ts'
import { isOutsideWait } from '../../runtime/state/states.ts'
import type { Store } from '../../runtime/store/store.ts'
import type { ExecutionSnapshot } from '../../runtime/store/types.ts'

/** When a parked execution must run again by itself (undefined: only a decision or a cancel wakes it). */
export function parkedUntil(snap: ExecutionSnapshot): number | undefined {
  const times = snap.taskRuns.filter((r) => r.state === 'WAITING' && isOutsideWait(r.reason) && r.nextAttemptAt !== undefined).map((r) => r.nextAttemptAt!)
  const { timeoutMs } = snap.workflow
  if (timeoutMs && snap.execution.startedAt !== undefined) times.push(snap.execution.startedAt + timeoutMs)
  return times.length ? Math.min(...times) : undefined
}

export interface ParkingDeps {
  store: Store
  clock: Clock
  /** Queue it to run (ignored while it is still active). */
  enqueue(executionId: string): void
}

export class Parking {
  private readonly timers = new Map<string, AbortController>()
  /** Executions a decision is being committed for, off any worker: nothing may queue them meanwhile. */
  private readonly held = new Set<string>()
  private stopped = false

  constructor(private readonly deps: ParkingDeps) {}

  /** Its actor stopped: when it did so WAITING (parked), arm its wake-up. */
  async afterStop(executionId: string): Promise<void> {
    const snap = await this.deps.store.executions.snapshot(executionId)
    if (this.stopped || this.held.has(executionId) || snap?.execution.state !== 'WAITING') return
    const at = parkedUntil(snap)
    this.cancelTimer(executionId)
    if (at === undefined) return
    const timer = new AbortController()
    this.timers.set(executionId, timer)
    this.deps.clock.sleep(at - this.deps.clock.now(), timer.signal).then(() => {
      if (this.timers.get(executionId) === timer) this.timers.delete(executionId)
      if (!this.stopped && !this.held.has(executionId)) this.deps.enqueue(executionId)
    }, () => {})
  }

  /**
   * Runs `work` while nothing may queue the execution (its wake-up timer is gone), then queues it: a decision on
   * a parked execution is committed by the supervisor with no actor alive, so there is still one writer. One
   * at a time per execution.
   */
  async holding<T>(executionId: string, work: () => Promise<T>): Promise<T> {
    while (this.held.has(executionId)) await this.deps.clock.sleep(5)
    this.held.add(executionId)
    this.cancelTimer(executionId)
    try {
      return await work()
    } finally {
      this.held.delete(executionId)
      // Whatever the decision did, the execution runs again: it goes on, or parks again with a fresh timer.
      if (!this.stopped) this.deps.enqueue(executionId)
    }
  }

  /** Shutdown: no wake-up fires any more (the next start queues WAITING executions again). */
  stop(): void {
    this.stopped = true
    for (const t of this.timers.values()) t.abort()
    this.timers.clear()
  }

  private cancelTimer(executionId: string): void {
    this.timers.get(executionId)?.abort()
    this.timers.delete(executionId)
  }
}
