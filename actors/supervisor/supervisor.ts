/**
 * The supervisor actor (main thread): the only writer to the store. It creates executions, queues them
 * under `maxConcurrentWorkflows`, hands them to workers, grants task slots under `maxConcurrentTasks`,
 * commits every transition (batched), recovers after crashes, and publishes events.
 */

import type { Clock } from '../../runtime/clock.ts'
import { AppError, ErrorCode, err, ok, toErrorInfo, type Result } from '../../runtime/errors.ts'
import { newExecutionId } from '../../runtime/ids.ts'
import { isTerminalExecution, isTerminalTask } from '../../runtime/state/states.ts'
import type { Transition, TransitionResult } from '../../runtime/store/checkpoint.ts'
import type { Store } from '../../runtime/store/store.ts'
import type { ExecutionRecord, ExecutionSnapshot } from '../../runtime/store/types.ts'
import { isStorageUnavailable } from '../../runtime/store/unavailable.ts'
import { resolveInputs } from '../../runtime/workflow/inputs.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import type { EngineEvent, EngineStats, SecretSource, StartOptions, StartRequest } from '../engine-types.ts'
import { CheckpointBatcher, type BatcherOptions, type Committed } from './batcher.ts'
import type { BeginTask, SupervisorPort, WorkerSettings } from './protocol.ts'
import { DEFAULT_LEASE, Lease, type LeaseTiming } from './lease.ts'
import { recoveryTransitions } from './recovery.ts'
import { Slots } from './slots.ts'
import { untilDeath, WorkerPool, type PooledWorker } from './workers.ts'

export interface SupervisorOptions {
  store: Store
  clock: Clock
  secrets?: SecretSource
  maxConcurrentWorkflows: number
  maxConcurrentTasks: number
  workers: number
  settings: WorkerSettings
  /** Retry and buffering while the store cannot be written (defaults in batcher.ts). */
  batcher?: BatcherOptions
  /** This engine's lease on its executions (default 30 s, renewed every 10 s). */
  lease?: LeaseTiming
}

const MAX_WORKER_CRASHES = 3
/** How long recovery waits before it tries again to claim executions the store would not let it claim. */
const RECOVER_RETRY_MS = 1000

export class Supervisor {
  private readonly store: Store
  private readonly batcher: CheckpointBatcher
  private readonly slots: Slots
  private readonly pool: WorkerPool
  private readonly queue: string[] = []
  private readonly active = new Map<string, PooledWorker | undefined>()
  private readonly workflowOf = new Map<string, string>()
  private readonly crashes = new Map<string, number>()
  private readonly listeners = new Set<(e: EngineEvent) => void>()
  private readonly waiters = new Map<string, ((r: ExecutionRecord) => void)[]>()
  private readonly cancelRequested = new Set<string>()
  /** Task slots each worker holds: given back when the worker dies, since its tasks never will. */
  private readonly slotsHeld = new Map<PooledWorker, number>()
  /** Tasks waiting for a slot, by `executionId/taskId`: they stop waiting once the task ends (cancel, timeout). */
  private readonly slotWaits = new Map<string, AbortController>()
  private idleWaiters: (() => void)[] = []
  private accepting = true
  private pumping = false
  private readonly lease: Lease
  private recoverTimer: ReturnType<typeof setTimeout> | undefined

  constructor(private readonly opts: SupervisorOptions) {
    this.store = opts.store
    this.slots = new Slots(opts.maxConcurrentTasks)
    this.lease = new Lease(opts.store, opts.clock, opts.lease ?? DEFAULT_LEASE)
    this.batcher = new CheckpointBatcher(opts.store, opts.clock, (c) => this.publish(c), { ...opts.batcher, owner: this.lease.owner })
    this.pool = new WorkerPool(opts.workers, (w) => this.port(w), opts.settings, (w) => this.onWorkerCrash(w))
  }

  /** Registers this engine's lease (the heartbeat renews it until shutdown). Never throws. */
  async begin(): Promise<void> {
    await this.lease.start()
  }

  /**
   * Resumes every non-terminal execution whose engine is gone (after a crash or a restart): its lease ended or
   * expired, or its process is dead on this host. Executions a live engine holds (a second server or a
   * `workflow run` on the same file) are left to it.
   */
  async recover(): Promise<void> {
    this.recoverTimer = undefined
    const retry = () => (this.recoverTimer ??= setTimeout(() => void this.recover().catch(() => {}), RECOVER_RETRY_MS))
    let live: Map<string, number>
    try {
      live = await this.lease.reapDead()
    } catch (err) {
      if (!isStorageUnavailable(err)) throw err
      // The store cannot be written yet: serve what we have, and claim the rest once it can.
      return void retry()
    }
    const now = this.opts.clock.now()
    const candidates = (await this.store.executions.listActive()).filter((e) =>
      !this.workflowOf.has(e.id) && (e.owner === undefined || e.owner === this.lease.owner || (live.get(e.owner) ?? -Infinity) < now))
    const claims = await Promise.all(candidates.map((e) => this.batcher.submit([{ kind: 'claim', executionId: e.id }], { failFast: true })))
    for (const [i, e] of candidates.entries()) {
      const [claimed] = claims[i]!
      if (!claimed!.ok) {
        if (claimed!.error.code === ErrorCode.StorageUnavailable) retry()
        continue // another engine holds it, or was first
      }
      const snap = (await this.store.executions.snapshot(e.id))!
      this.workflowOf.set(e.id, e.workflowId)
      const t = recoveryTransitions(snap)
      if (t.length) await this.batcher.submit(t)
      this.queue.push(e.id)
    }
    void this.pump()
  }

  async start(req: StartRequest, opts: StartOptions = {}): Promise<ExecutionRecord> {
    if (!this.accepting) throw new AppError(ErrorCode.Conflict, 'the engine is shutting down')
    let workflow: Workflow
    let revision = 0
    if (req.workflow) workflow = req.workflow
    else {
      const rec = req.workflowId ? await this.store.workflows.get(req.workflowId) : undefined
      if (!rec) throw new AppError(ErrorCode.NotFound, `workflow ${req.workflowId} not found`)
      if (!rec.enabled && req.trigger.type !== 'manual' && req.trigger.type !== 'api')
        throw new AppError(ErrorCode.WorkflowDisabled, `workflow ${rec.id} is disabled`)
      workflow = rec.workflow
      revision = rec.revision
    }
    const inputs = resolveInputs(workflow.inputs, req.inputs ?? {})
    const now = this.opts.clock.now()
    const id = newExecutionId(now)
    // Batched with the turn's other creations into one fsynced commit: once this resolves, the execution
    // survives a power cut; a store that cannot be written rejects with STORAGE_UNAVAILABLE.
    const create: Transition[] = [{ kind: 'create', executionId: id, workflow, revision, inputs, trigger: req.trigger }]
    if (opts.cronFire) create.push({ kind: 'cronFire', workflowId: workflow.id, executionId: id, ...opts.cronFire })
    const [created] = await this.batcher.submit(create, { atomic: true, failFast: true, durable: true })
    if (!created!.ok) {
      const e = created!.error
      throw new AppError(e.code, e.message, e.details, e.retryable === true)
    }
    this.workflowOf.set(id, workflow.id)
    this.emit({ type: 'execution', executionId: id, workflowId: workflow.id, state: 'PENDING', at: now })
    this.queue.push(id)
    void this.pump()
    return (await this.store.executions.get(id))!
  }

  async cancel(id: string, reason = 'cancelled by user'): Promise<ExecutionRecord> {
    const rec = await this.store.executions.get(id)
    if (!rec) throw new AppError(ErrorCode.NotFound, `execution ${id} not found`)
    if (isTerminalExecution(rec.state)) return rec
    const host = this.active.get(id)
    if (host) {
      // A worker that dies meanwhile never answers; its executions are recovered, and cancelled then.
      await untilDeath(host, host.api.cancel(id, reason)).catch(() => {})
      return rec
    }
    if (this.active.has(id)) {
      // Being dispatched right now: let the dispatch see the cancellation.
      this.cancelRequested.add(id)
      return rec
    }
    const idx = this.queue.indexOf(id)
    if (idx >= 0) this.queue.splice(idx, 1)
    const error = { code: ErrorCode.Cancelled, message: reason }
    const snap = (await this.store.executions.snapshot(id))!
    // Not queued here: ours once the claim holds (its engine is gone), else another live engine's to cancel.
    const t: Transition[] = idx >= 0 ? [] : [{ kind: 'claim', executionId: id }]
    for (const r of snap.taskRuns) if (!isTerminalTask(r.state)) t.push({ kind: 'task', executionId: id, taskId: r.taskId, to: 'CANCELLED', error })
    t.push({ kind: 'execution', executionId: id, to: 'CANCELLED', error })
    const results = await this.batcher.submit(t, { failFast: true, durable: true, atomic: idx < 0 })
    const refused = results.find((r) => !r.ok && (r.error.code === ErrorCode.StorageUnavailable || (idx < 0 && r.error.code === ErrorCode.Conflict)))
    if (refused && !refused.ok) {
      // Nothing was cancelled: the execution keeps its place and the caller may retry.
      if (idx >= 0) this.queue.splice(Math.min(idx, this.queue.length), 0, id)
      void this.pump()
      if (refused.error.code === ErrorCode.Conflict) {
        throw new AppError(ErrorCode.Conflict, `execution ${id} is run by another engine on this store; cancel it there`, refused.error.details)
      }
      throw new AppError(ErrorCode.StorageUnavailable, refused.error.message, refused.error.details, true)
    }
    return (await this.store.executions.get(id))!
  }

  async waitFor(id: string): Promise<ExecutionRecord> {
    // Listen first, then read: the execution may end between the two, and its end must not be missed.
    let resolve!: (r: ExecutionRecord) => void
    const done = new Promise<ExecutionRecord>((r) => (resolve = r))
    const list = this.waiters.get(id) ?? []
    list.push(resolve)
    this.waiters.set(id, list)
    const rec = await this.store.executions.get(id)
    if (!rec || isTerminalExecution(rec.state)) {
      const left = (this.waiters.get(id) ?? []).filter((w) => w !== resolve)
      if (left.length) this.waiters.set(id, left)
      else this.waiters.delete(id)
      if (!rec) throw new AppError(ErrorCode.NotFound, `execution ${id} not found`)
      return rec
    }
    return done
  }

  async snapshot(id: string): Promise<ExecutionSnapshot | undefined> {
    await this.batcher.flush()
    return this.store.executions.snapshot(id)
  }

  subscribe(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** The live worker threads (diagnostics, and the worker-crash tests). */
  workerThreads(): Worker[] {
    return this.pool.all().map((w) => w.worker)
  }

  stats(): EngineStats {
    return {
      runningExecutions: this.active.size, queuedExecutions: this.queue.length, runningTasks: this.slots.inUse,
      waitingTasks: this.slots.waiting, waitingForStore: this.batcher.waitingForStore,
    }
  }

  /** Stops dispatching, waits up to `graceMs` for running executions, then interrupts the rest. */
  async shutdown(graceMs: number): Promise<void> {
    this.accepting = false
    this.queue.length = 0
    if (this.recoverTimer) clearTimeout(this.recoverTimer)
    if (this.active.size) {
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve))
      const grace = new AbortController()
      await Promise.race([idle, this.opts.clock.sleep(graceMs, grace.signal).catch(() => {})])
      grace.abort()
    }
    // Past the grace period nobody waits for the store any more: what cannot be committed now is
    // recovered from the store on the next start, as after a crash.
    await this.batcher.stopWaiting()
    // Whatever is still running stops without a terminal state and resumes on the next start.
    await Promise.all(this.pool.all().map((w) => untilDeath(w, w.api.interruptAll()).catch(() => {})))
    await this.batcher.drain()
    await this.pool.close()
    await this.lease.stop()
  }

  // ── dispatch ────────────────────────────────────────────────────────────────

  private async pump(): Promise<void> {
    if (this.pumping) return
    this.pumping = true
    try {
      while (this.accepting && this.queue.length && this.active.size < this.opts.maxConcurrentWorkflows) {
        const id = this.queue.shift()!
        await this.dispatch(id)
      }
    } finally {
      this.pumping = false
    }
  }

  private async dispatch(id: string): Promise<void> {
    this.active.set(id, undefined)
    let worker: PooledWorker | undefined
    try {
      const rec = await this.store.executions.get(id)
      if (!rec || isTerminalExecution(rec.state)) return void this.active.delete(id)
      if (rec.state === 'PENDING') await this.batcher.submit([{ kind: 'execution', executionId: id, to: 'RUNNING' }])
      const snap = (await this.store.executions.snapshot(id))!
      worker = await this.pool.pick()
      worker.executions.add(id)
      this.active.set(id, worker)
      // Not waiting for a worker that dies meanwhile: the pump would stall behind it (recovery's re-dispatch too).
      await untilDeath(worker, worker.api.run(snap))
      if (this.cancelRequested.delete(id)) await untilDeath(worker, worker.api.cancel(id, 'cancelled by user'))
    } catch (e) {
      // The worker died with it: its crash recovery has the execution now.
      if (worker?.dead) return
      this.active.delete(id)
      await this.batcher.submit([{ kind: 'execution', executionId: id, to: 'FAILED', error: toErrorInfo(e) }])
    }
  }

  private finished(id: string): void {
    const w = this.active.get(id)
    w?.executions.delete(id)
    this.active.delete(id)
    this.cancelRequested.delete(id)
    if (this.active.size === 0) for (const w of this.idleWaiters.splice(0)) w()
    void this.pump()
  }

  private onWorkerCrash(w: PooledWorker): void {
    for (let n = this.slotsHeld.get(w) ?? 0; n > 0; n--) this.slots.release()
    this.slotsHeld.delete(w)
    for (const id of w.executions) {
      this.active.delete(id)
      const n = (this.crashes.get(id) ?? 0) + 1
      this.crashes.set(id, n)
      void this.recoverAfterCrash(id, n)
    }
    w.executions.clear()
  }

  private async recoverAfterCrash(id: string, crashes: number): Promise<void> {
    // Whatever the dead worker had submitted (checkpoints and lines) commits first, so the snapshot below is the whole story.
    await this.batcher.barrier()
    const snap = await this.store.executions.snapshot(id)
    if (!snap || isTerminalExecution(snap.execution.state)) return
    const t = recoveryTransitions(snap, 'its worker thread crashed')
    if (crashes >= MAX_WORKER_CRASHES) {
      const error = { code: ErrorCode.WorkerCrashed, message: `the worker hosting this execution crashed ${crashes} times` }
      for (const r of snap.taskRuns) if (!isTerminalTask(r.state)) t.push({ kind: 'task', executionId: id, taskId: r.taskId, to: 'FAILED', error })
      t.push({ kind: 'execution', executionId: id, to: 'FAILED', error })
    }
    await this.batcher.submit(t)
    if (crashes < MAX_WORKER_CRASHES) {
      this.queue.unshift(id)
      void this.pump()
    }
  }

  // ── the port workers call ───────────────────────────────────────────────────

  private port(w: PooledWorker): SupervisorPort {
    return {
      checkpoint: (t) => this.batcher.submit(t),
      beginTask: (req) => this.beginTask(w, req),
      endTask: () => this.endTask(w),
      log: (lines) => this.batcher.log(lines),
      resolveSecrets: async (_executionId, names) => this.resolveSecrets(names),
      executionFinished: (id) => this.finished(id),
    }
  }

  private async beginTask(w: PooledWorker, req: BeginTask): Promise<TransitionResult> {
    const running: Transition = { kind: 'task', executionId: req.executionId, taskId: req.taskId, to: 'RUNNING', attempt: req.attempt, runner: req.runner }
    if (!this.slots.tryAcquire()) {
      const [waiting] = await this.batcher.submit([{ kind: 'task', executionId: req.executionId, taskId: req.taskId, to: 'WAITING', reason: 'CONCURRENCY_LIMIT' }])
      if (waiting && !waiting.ok) return waiting
      const key = `${req.executionId}/${req.taskId}`
      const gaveUp = new AbortController()
      this.slotWaits.set(key, gaveUp)
      // The task may have ended in the same batch as its WAITING: then nothing would abort the wait.
      const now = await this.store.executions.taskRun(req.executionId, req.taskId)
      if (!now || isTerminalTask(now.state)) gaveUp.abort()
      const got = await this.slots.acquire(gaveUp.signal)
      if (this.slotWaits.get(key) === gaveUp) this.slotWaits.delete(key)
      if (!got) return { ok: false, error: { code: ErrorCode.Cancelled, message: `task ${req.taskId} ended while it waited for a slot` } }
    }
    if (w.dead) {
      // The worker died while this task waited: its execution is being recovered elsewhere.
      this.slots.release()
      return { ok: false, error: { code: ErrorCode.WorkerCrashed, message: 'the worker hosting this task crashed' } }
    }
    this.slotsHeld.set(w, (this.slotsHeld.get(w) ?? 0) + 1)
    const [r] = await this.batcher.submit([running])
    // A refused RUNNING (the task was cancelled meanwhile) holds no slot; a refused WAITING never took one.
    if (!r!.ok) this.endTask(w)
    return r!
  }

  private endTask(w: PooledWorker): void {
    const n = this.slotsHeld.get(w) ?? 0
    if (n <= 0) return // already given back when the worker died
    this.slotsHeld.set(w, n - 1)
    this.slots.release()
  }

  private async resolveSecrets(names: string[]): Promise<Result<Record<string, string>>> {
    if (!this.opts.secrets) return err({ code: ErrorCode.SecretNotFound, message: `secret ${names[0]} not found: no secret store is configured` })
    try {
      return ok(await this.opts.secrets.resolve(names))
    } catch (e) {
      return err(toErrorInfo(e))
    }
  }

  // ── events ──────────────────────────────────────────────────────────────────

  private publish(c: Committed): void {
    for (const { transition: t, result } of c.applied) {
      if (!result.ok || !result.changed) continue
      if (t.kind === 'execution') {
        const e: EngineEvent = { type: 'execution', executionId: t.executionId, workflowId: this.workflowOf.get(t.executionId) ?? '', state: t.to, at: c.at }
        this.emit(e)
        if (isTerminalExecution(t.to)) this.settle(t.executionId)
      } else if (t.kind === 'task') {
        if (isTerminalTask(t.to)) this.slotWaits.get(`${t.executionId}/${t.taskId}`)?.abort()
        this.emit({ type: 'task', executionId: t.executionId, taskId: t.taskId, state: t.to, attempt: t.attempt ?? 0, at: c.at })
      }
    }
    for (const line of c.logs) this.emit({ type: 'log', line })
  }

  private settle(id: string): void {
    const list = this.waiters.get(id)
    this.workflowOf.delete(id)
    this.crashes.delete(id)
    if (!list) return
    this.waiters.delete(id)
    void this.store.executions.get(id).then((rec) => { for (const w of list) w(rec!) }, () => {})
  }

  private emit(e: EngineEvent): void {
    for (const l of this.listeners) {
      try {
        l(e)
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}
