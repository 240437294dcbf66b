/**
 * Hands executions the supervisor's logic admitted to the worker pool, in batches: every dispatch asked for in one
 * event-loop turn is read, marked RUNNING in one commit of the store and handed to its worker without waiting for
 * the others' handovers, so N admitted executions start in one turn instead of one after another (issue 14).
 */

import { AppError, ErrorCode, toErrorInfo } from '../../runtime/errors.ts'
import { QUEUED_REASON } from '../../runtime/state/concurrency.ts'
import { isTerminalExecution } from '../../runtime/state/states.ts'
import type { Transition, TransitionResult } from '../../runtime/store/checkpoint.ts'
import type { Store } from '../../runtime/store/store.ts'
import type { ExecutionRecord } from '../../runtime/store/types.ts'
import { isStorageUnavailable } from '../../runtime/store/unavailable.ts'
import { withChildEnds } from './subflows.ts'
import { untilDeath, type PooledWorker, type WorkerPool } from './workers.ts'

export interface DispatcherDeps {
  store: Store
  /** `cluster.maxConcurrentWorkflows`: each start asks the store to refuse it at that many RUNNING (ExecutionTransition.cap). */
  cap?: number
  /** Commits through the batcher: submissions of one turn share one transaction. */
  commit(transitions: Transition[]): Promise<TransitionResult[]>
  pool: WorkerPool
  /** False once shutdown began: nothing is handed to a worker any more, and the execution stays as stored. */
  accepting(): boolean
  /** It runs on `workerId` now. */
  dispatched(executionId: string, workerId: number): void
  /** It left without running here (terminal already, parked for a slot, or its dispatch failed). */
  released(executionId: string): void
  /** Waits for a slot of its workflow's concurrency (recovered so): it takes no engine slot until the store admits it. */
  park(executionId: string, workflowId: string): void
  /** Another engine holds it now (it took it while it was queued here): its events and its end are that engine's. */
  lost(executionId: string): void
  /** The store refused its start at the cluster's cap: it waits, first, until an execution ends somewhere. */
  capped(executionId: string): void
  /** It ended by another engine's commit while queued here. */
  endedElsewhere(rec: ExecutionRecord): void
  /** The store could not be read or written for it (an outage): queue it again a little later. */
  retryLater(executionId: string): void
}

export class Dispatcher {
  private pending: string[] = []
  private scheduled = false
  /** The batches still being prepared (up to their handovers), which shutdown waits for. */
  private running = new Set<Promise<void>>()
  /** Batches prepared so far (tests and the benchmark read it). */
  batches = 0

  constructor(private readonly deps: DispatcherDeps) {}

  /** Dispatches `executionId` with everything else asked for in this turn, in the order asked. */
  dispatch(executionId: string): void {
    this.pending.push(executionId)
    if (this.scheduled) return
    this.scheduled = true
    // The end of the turn: the mailbox's other messages of this turn (a commit that created 50) join this batch.
    setImmediate(() => {
      this.scheduled = false
      const batch = this.run(this.pending.splice(0)).catch(() => {})
      this.running.add(batch)
      void batch.then(() => this.running.delete(batch))
    })
  }

  /**
   * Settles once every batch under way has handed over or released its executions. Shutdown waits for it, so that
   * nothing is handed to a worker behind its interrupt (a parked execution whose wake-up fired just then).
   */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.scheduled) {
      if (this.running.size > 0) await Promise.all([...this.running])
      else await new Promise<void>((r) => setImmediate(r))
    }
  }

  private async run(ids: string[]): Promise<void> {
    if (ids.length === 0) return
    this.batches++
    const { store } = this.deps
    const recs = await Promise.all(ids.map((id) => store.executions.get(id).then((rec) => ({ rec }), (error: unknown) => ({ error }))))
    const go: { id: string; rec: ExecutionRecord }[] = []
    ids.forEach((id, i) => {
      const got = recs[i]!
      if ('error' in got) return void this.fail(id, undefined, got.error)
      const { rec } = got
      if (!rec || isTerminalExecution(rec.state)) {
        if (rec) this.deps.endedElsewhere(rec)
        return this.deps.released(id)
      }
      if (rec.state === 'WAITING' && rec.reason === QUEUED_REASON) {
        this.deps.released(id)
        return this.deps.park(id, rec.workflowId)
      }
      go.push({ id, rec })
    })
    // Submitted together, so the batcher writes every RUNNING of this batch in one transaction (checkpoint before
    // effect: none is handed over before its own commit). A parked execution runs again: a change of state, not a
    // start. Each commit is fenced by this engine, so one another engine took while it was queued here
    // (queue-claims.ts) is refused CONFLICT and runs there; for one resumed RUNNING (recovery) the same transition is a
    // fenced no-op: a check that it is still this engine's, never a takeover (which is recovery's, with its transitions).
    const cap = this.deps.cap !== undefined ? { cap: this.deps.cap } : {}
    const started = await Promise.all(go.map(({ id, rec }) => this.deps.commit([rec.state === 'PENDING'
      ? { kind: 'execution', executionId: id, to: 'RUNNING', ...cap }
      : rec.state === 'WAITING' ? { kind: 'execution', executionId: id, to: 'RUNNING', auditType: 'STATE_CHANGE', ...cap } : { kind: 'execution', executionId: id, to: 'RUNNING' }])
      .then((r) => ({ refused: r?.find((x) => !x.ok) }), (error: unknown) => ({ error }))))
    // A parent learns here of the children that ended while it was parked, queued or down.
    const snaps = await Promise.all(go.map(({ id }, i) => 'error' in started[i]! || started[i]!.refused ? undefined
      : store.executions.snapshot(id).then((s) => withChildEnds(store, s!)).then((snap) => ({ snap }), (error: unknown) => ({ error }))))
    for (const [i, { id }] of go.entries()) {
      const begun = started[i]!
      if ('error' in begun) {
        this.fail(id, undefined, begun.error)
        continue
      }
      // Taken by another engine between the read and the commit (fenced: CONFLICT), or refused otherwise: not run here.
      if (begun.refused && !begun.refused.ok) {
        if (begun.refused.error.code === ErrorCode.Conflict) {
          this.deps.lost(id)
          this.deps.released(id)
          continue
        }
        if (begun.refused.error.code === ErrorCode.AtCapacity) {
          this.deps.capped(id)
          continue
        }
        this.fail(id, undefined, new AppError(begun.refused.error.code, begun.refused.error.message, begun.refused.error.details, begun.refused.error.retryable === true))
        continue
      }
      const got = snaps[i]!
      if ('error' in got) {
        this.fail(id, undefined, got.error)
        continue
      }
      // Shutdown began meanwhile: the execution stays as stored (RUNNING or WAITING), and the next start resumes it.
      if (!this.deps.accepting()) {
        this.deps.released(id)
        continue
      }
      let worker: PooledWorker | undefined
      try {
        // One at a time, so each choice sees the executions the previous ones put on their workers (least loaded).
        worker = await this.deps.pool.host(id)
      } catch (e) {
        this.fail(id, undefined, e)
        continue
      }
      const w = worker
      // Fenced (or shutting down) while it waited for the worker: nothing is handed over.
      if (!this.deps.accepting()) {
        this.deps.pool.vacate(w, id)
        this.deps.released(id)
        continue
      }
      // Not waited for: the handovers of a batch go out together, and a worker that dies meanwhile stalls no other.
      untilDeath(w, w.api.run(got.snap)).then(() => this.deps.dispatched(id, w.id), (e: unknown) => this.fail(id, w, e))
    }
  }

  private fail(id: string, worker: PooledWorker | undefined, e: unknown): void {
    // Shutting down (its worker stopped, or none is left to take it): not a failure of the execution, which the next
    // start resumes from the store.
    if (!this.deps.accepting()) {
      if (worker) this.deps.pool.vacate(worker, id)
      return this.deps.released(id)
    }
    if (worker?.dead) return // the worker died with it: its crash recovery has the execution now
    if (worker) this.deps.pool.vacate(worker, id)
    this.deps.released(id)
    // Not the execution's failure: the store is down for a moment (its FAILED would only commit once it is back).
    if (isStorageUnavailable(e)) return this.deps.retryLater(id)
    void this.deps.commit([{ kind: 'execution', executionId: id, to: 'FAILED', error: toErrorInfo(e) }]).catch(() => {})
  }
}
