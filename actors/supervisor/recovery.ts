/**
 * Crash recovery (invariant 3). The rule is a pure function of a stored snapshot: a task interrupted while
 * RUNNING is given back (PENDING) if attempts remain, else FAILED with INTERRUPTED; SUCCESS never reruns. Around it:
 * taking over, at start, the executions whose engine is gone (its lease ended or expired, or the store proves its
 * process dead: lease.ts), and recovering the executions of a worker that crashed.
 */

import type { Clock } from '../../runtime/clock.ts'
import { ErrorCode } from '../../runtime/errors.ts'
import { isTerminalExecution, isWaitReason, WAIT_ON_RECOVERY } from '../../runtime/state/states.ts'
import { terminateUnfinished } from '../../runtime/state/terminate.ts'
import type { Transition, TransitionResult } from '../../runtime/store/checkpoint.ts'
import type { Store } from '../../runtime/store/store.ts'
import type { ExecutionSnapshot } from '../../runtime/store/types.ts'
import { isStorageUnavailable } from '../../runtime/store/unavailable.ts'
import { taskAtPath } from '../../runtime/workflow/run-path.ts'
import { tasksById } from '../../runtime/workflow/task-lists.ts'
import type { SubmitOptions } from './batcher.ts'
import type { Lease } from './lease.ts'

/** How long recovery waits before it tries again to claim executions the store would not let it claim. */
const RECOVER_RETRY_MS = 1000

export function recoveryTransitions(snap: ExecutionSnapshot, why = 'the engine stopped while it ran'): Transition[] {
  const out: Transition[] = []
  const executionId = snap.execution.id
  const tasks = tasksById(snap.workflow)
  for (const run of snap.taskRuns) {
    const task = taskAtPath(tasks, run.taskId)
    const allowed = (task?.retry?.max ?? 0) + 1
    const error = { code: ErrorCode.Interrupted, message: `attempt ${run.attempt} was interrupted: ${why}` }
    // A forEach task's own run is RUNNING while its iterations are, with no process of its own: it stays so, and
    // its iterations (each a run, recovered here like any) go on when it resumes.
    if (run.state === 'RUNNING' && task?.forEach !== undefined && run.iteration === undefined) continue
    if (run.state === 'RUNNING') {
      // Attempts before a restart do not count (attemptBase): the task has its whole budget since.
      out.push(run.attempt - (run.attemptBase ?? 0) < allowed
        ? { kind: 'task', executionId, taskId: run.taskId, to: 'PENDING', reason: 'INTERRUPTED', error, auditType: 'RECOVERED' }
        : { kind: 'task', executionId, taskId: run.taskId, to: 'FAILED', reason: 'INTERRUPTED', error })
    } else if (run.state === 'WAITING' && isWaitReason(run.reason) && WAIT_ON_RECOVERY[run.reason] === 'requeue') {
      out.push({ kind: 'task', executionId, taskId: run.taskId, to: 'PENDING', reason: 'RECOVERED', auditType: 'RECOVERED' })
    }
  }
  return out
}

/** A worker crashed this execution `crashes` times: it fails, every unfinished task with it (WORKER_CRASHED). */
export function giveUpTransitions(snap: ExecutionSnapshot, crashes: number): Transition[] {
  const error = { code: ErrorCode.WorkerCrashed, message: `the worker hosting this execution crashed ${crashes} times` }
  return terminateUnfinished(snap.execution.id, snap.taskRuns, { to: 'FAILED', error })
}

export interface RecoveryDeps {
  store: Store
  clock: Clock
  lease: Lease
  /** Commits through the batcher (claims fail fast, so a store that cannot be written does not hold the start). */
  commit(transitions: Transition[], opts?: SubmitOptions): Promise<TransitionResult[]>
  /** Resolves once everything submitted before is committed. */
  barrier(): Promise<void>
  /** Whether this engine runs the execution already. */
  runs(executionId: string): boolean
  /** This engine runs it from now on. */
  adopt(executionId: string, workflowId: string): void
  /**
   * Another engine holds it in the store though this one tracks it (it took it from this engine's queue, and that
   * notice was lost): let it go here, unless it is being handed to a worker (whose fenced commit lets it go).
   */
  lost(executionId: string): Promise<void>
  /** Queues it to run (`front`: ahead of the others, after a crash). */
  enqueue(executionId: string, front: boolean): void
}

export class Recovery {
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private stopped = false
  /** A takeover pass under way: a heartbeat's sweep never overlaps another pass. */
  private passing: Promise<void> | undefined

  constructor(private readonly deps: RecoveryDeps) {}

  /**
   * Resumes every non-terminal execution whose engine is gone: its lease ended or expired, or the store proves its
   * process dead (never judged by a pid). Executions a live engine holds (a second server, a `workflow run` on the
   * same file, in any pid namespace) stay its own.
   * When the store cannot be written it serves what it has and tries again every second.
   */
  async onStart(): Promise<void> {
    this.retryTimer = undefined
    await this.pass(true)
  }

  /**
   * Every heartbeat (lease.ts `onBeat`): takes over the executions of engines gone since — a node lost mid-run, a
   * `workflow run` killed beside a server. Its own executions are not looked at: each is tracked here from its
   * creation on, and one seen between its commit and its tracking must not be adopted twice.
   */
  async sweep(): Promise<void> {
    if (this.stopped || this.passing) return
    const done = this.pass(false).catch((e) => { if (!isStorageUnavailable(e)) throw e })
    this.passing = done
    try { await done } finally { this.passing = undefined }
  }

  private async pass(atStart: boolean): Promise<void> {
    const { store, lease, clock } = this.deps
    let live: Map<string, number>
    try {
      live = await lease.reapDead()
    } catch (e) {
      if (!isStorageUnavailable(e)) throw e
      return atStart ? this.retry() : undefined
    }
    if (this.stopped) return
    const now = clock.now()
    const active = await store.executions.listActive()
    // Tracked here but another engine's: let go first, so that it can be taken over below should that engine be gone.
    await Promise.all(active.filter((e) => e.owner !== undefined && e.owner !== lease.owner && this.deps.runs(e.id)).map((e) => this.deps.lost(e.id)))
    const candidates = active.filter((e) => !this.deps.runs(e.id) &&
      (e.owner === undefined || (atStart && e.owner === lease.owner) || (e.owner !== lease.owner && (live.get(e.owner) ?? -Infinity) < now)))
    if (candidates.length === 0 || this.stopped) return
    // One commit for every claim; each claim is one conditional update, so a rival engine's claim loses cleanly.
    const claims = await Promise.all(candidates.map((e) => this.deps.commit([{ kind: 'claim', executionId: e.id }], { failFast: true })))
    const ours = candidates.filter((_, i) => {
      const [claimed] = claims[i]!
      if (claimed!.ok) return true
      if (claimed!.error.code === ErrorCode.StorageUnavailable && atStart) this.retry()
      return false // another engine holds it, or was first
    })
    // Together, so their recovery transitions share one commit and they are queued in one turn (dispatched as one batch).
    const snaps = await Promise.all(ours.map((e) => store.executions.snapshot(e.id)))
    const adopted = snaps.filter((snap): snap is ExecutionSnapshot => {
      // Ended meanwhile (a cancel from another engine), or already run here by another path: nothing to resume.
      if (!snap || isTerminalExecution(snap.execution.state) || this.deps.runs(snap.execution.id)) return false
      this.deps.adopt(snap.execution.id, snap.execution.workflowId)
      return true
    })
    await Promise.all(adopted.flatMap((snap) => {
      const t = recoveryTransitions(snap)
      return t.length ? [this.deps.commit(t)] : []
    }))
    for (const snap of adopted) this.deps.enqueue(snap.execution.id, false)
  }

  /** Its worker died: give back what it was running and queue it first, or fail it once it crashed too often. */
  async afterCrash(executionId: string, crashes: number, giveUp: boolean): Promise<void> {
    // Whatever the dead worker had submitted (checkpoints and lines) commits first, so the snapshot below is the whole story.
    await this.deps.barrier()
    const snap = await this.deps.store.executions.snapshot(executionId)
    if (!snap || isTerminalExecution(snap.execution.state)) return
    const t = recoveryTransitions(snap, 'its worker thread crashed')
    if (giveUp) t.push(...giveUpTransitions(snap, crashes))
    await this.deps.commit(t)
    if (!giveUp) this.deps.enqueue(executionId, true)
  }

  /**
   * After this engine fenced itself (lease.ts) and renewed its lease again: everything it ran was interrupted. Each
   * non-terminal execution still its own is recovered as after a crash (RUNNING attempts given back, or INTERRUPTED)
   * and queued again; those another engine took over meanwhile are no longer tracked here (`forget`). Throws when
   * the store cannot be read or written: the fence holds, and the next renewal tries again.
   */
  async resumeOwn(forget: (executionId: string) => void, tracked: () => string[]): Promise<void> {
    const { store, lease } = this.deps
    // What the interrupted actors had submitted commits first (or is refused), so the snapshots are the whole story.
    await this.deps.barrier()
    const mine = (await store.executions.listActive()).filter((e) => e.owner === lease.owner)
    const snaps = (await Promise.all(mine.map((e) => store.executions.snapshot(e.id))))
      .filter((snap): snap is ExecutionSnapshot => snap !== undefined && !isTerminalExecution(snap.execution.state))
    const ids = new Set(snaps.map((snap) => snap.execution.id))
    for (const id of tracked()) if (!ids.has(id)) forget(id)
    for (const snap of snaps) if (!this.deps.runs(snap.execution.id)) this.deps.adopt(snap.execution.id, snap.execution.workflowId)
    const why = 'its engine could not renew its lease in time (cut off from the store) and stopped it'
    const results = await Promise.all(snaps.map((snap) => {
      const t = recoveryTransitions(snap, why)
      return t.length ? this.deps.commit(t, { failFast: true }) : Promise.resolve([])
    }))
    const unavailable = results.flat().find((r) => !r.ok && r.error.code === ErrorCode.StorageUnavailable)
    if (unavailable && !unavailable.ok) throw new Error(unavailable.error.message)
    snaps.forEach((snap, i) => {
      // Fenced off: another engine took it over between the read and the commit.
      if (results[i]!.some((r) => !r.ok && r.error.code === ErrorCode.Conflict)) forget(snap.execution.id)
      else this.deps.enqueue(snap.execution.id, true)
    })
  }

  /** Shutdown: the retry is disarmed, and a pass still under way arms none (the next start recovers instead). */
  stop(): void {
    this.stopped = true
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.retryTimer = undefined
  }

  private retry(): void {
    if (this.stopped) return
    this.retryTimer ??= setTimeout(() => void this.onStart().catch(() => {}), RECOVER_RETRY_MS)
  }
}
