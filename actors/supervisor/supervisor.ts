/**
 * The supervisor actor (main thread), on the actor kernel: its mailbox takes SupervisorInbox messages one at a
 * time and its pure logic (logic.ts) decides what runs where; this file performs the effects. Around it, each
 * concern in its own module: admission (may it start), creation and cancel here, dispatch in batches (dispatcher.ts)
 * to the worker pool (workers.ts), task slots (task-slots.ts), commits (batcher.ts), events (events.ts), recovery (recovery.ts)
 * and the lease on its executions (lease.ts).
 */

import { randomUUID } from 'node:crypto'
import type { Clock } from '../../runtime/clock.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { newExecutionId } from '../../runtime/ids.ts'
import { QUEUED_REASON } from '../../runtime/state/concurrency.ts'
import { isTerminalExecution } from '../../runtime/state/states.ts'
import { terminateUnfinished } from '../../runtime/state/terminate.ts'
import type { Transition } from '../../runtime/store/checkpoint.ts'
import type { Store, StoreWakeup } from '../../runtime/store/store.ts'
import type { ExecutionRecord, ExecutionSnapshot, TaskRunRecord } from '../../runtime/store/types.ts'
import type { ChildRequest, Decision } from '../execution/protocol.ts'
import { resolveInputs } from '../../runtime/workflow/inputs.ts'
import { mergeLabels } from '../../runtime/workflow/labels.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import type { EngineEvent, EngineStats, SecretSource, StartOptions, StartRequest } from '../engine-types.ts'
import { spawnActor, type ActorRef } from '../kernel/actor.ts'
import { admit, admissionError } from './admission.ts'
import { CheckpointBatcher, type BatcherOptions } from './batcher.ts'
import { decideParked, decideTask } from './decisions.ts'
import { Dispatcher } from './dispatcher.ts'
import { replayExecution, restartExecution, type ReplayRequest, type RerunDeps } from './reruns.ts'
import { EventHub } from './events.ts'
import type { CancelPlan, SupervisorEffect, SupervisorInbox } from './inbox.ts'
import { DEFAULT_LEASE, Lease, type LeaseTiming } from './lease.ts'
import { initialSupervisorState, nextSupervisorState, type SupervisorState } from './logic.ts'
import { workerPort } from './port.ts'
import type { WorkerSettings } from './protocol.ts'
import { Parking } from './parking.ts'
import { TASK_KINDS } from '../../runtime/workflow/tasks/registry.ts'
import { loadTaskKindModules, TASK_STEPS, withKindModules, type TaskSteps } from '../execution/steps/registry.ts'
import { Recovery } from './recovery.ts'
import { WAKE_SOON_MS } from './poll-loop.ts'
import { QueueClaims } from './queue-claims.ts'
import { SlotWatcher } from './slot-watcher.ts'
import { askHolder, RemoteDecisions } from './remote-decisions.ts'
import { ChildWatcher, startChild } from './subflows.ts'
import { TaskSlots } from './task-slots.ts'
import { untilDeath, WorkerPool, type PooledWorker } from './workers.ts'

/** How soon an execution whose dispatch met a store outage is queued again. */
const DISPATCH_RETRY_MS = 1000

/**
 * How long a fence waits for a worker to kill its attempts (processes reaped, containers removed) before it stops the
 * thread anyway (at most half a heartbeat: the margin to the lease's expiry is one heartbeat).
 */
const FENCE_GRACE_MS = 2000

/**
 * How soon an engine whose start the cluster's cap refused (`cluster.maxConcurrentWorkflows`) tries again without being
 * told of an end (an execution parked elsewhere frees a place too, and nothing announces it).
 */
const CAP_POLL_MS = 1000

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
  /** `cluster.maxConcurrentWorkflows`: executions RUNNING at once across every engine on the store (unset: no cap). */
  clusterMaxConcurrentWorkflows?: number
  /** How deep subflows may nest (`limits.maxSubflowDepth`; default 8): a child deeper fails SUBFLOW_DEPTH_EXCEEDED. */
  maxSubflowDepth?: number
  /** Where subflows find their child workflows instead of the store (EngineOptions.localWorkflows). */
  localWorkflows?: ReadonlyMap<string, Workflow>
  /**
   * A worker that hosts no execution (and keeps no warm process) is stopped after this long, and started again for
   * the next execution (`execution.workerIdleSeconds`; default 30 s; 0 keeps workers for the engine's life).
   */
  workerIdleMs?: number
}

/** The default of `limits.maxSubflowDepth`. */
export const DEFAULT_MAX_SUBFLOW_DEPTH = 8

export class Supervisor {
  private readonly store: Store
  private readonly batcher: CheckpointBatcher
  private readonly slots: TaskSlots
  private readonly pool: WorkerPool
  private readonly events: EventHub
  private readonly lease: Lease
  private readonly recovery: Recovery
  private readonly watcher: SlotWatcher
  private readonly remoteDecisions: RemoteDecisions
  private readonly parking: Parking
  private readonly children: ChildWatcher
  private readonly queueClaims: QueueClaims
  /** The kinds' steps, loaded on the first decision on a parked execution (workers load their own). */
  private steps: Promise<TaskSteps> | undefined
  private readonly mailbox: ActorRef<SupervisorInbox, CancelPlan | undefined>
  private state: SupervisorState
  /** Dispatches go out in batches, one per event-loop turn, in the order the logic asked for them. */
  private readonly dispatcher: Dispatcher
  private idleWaiters: (() => void)[] = []
  /** The last fence's interrupt, which a resume waits for. */
  private fencing: Promise<void> | undefined
  /** The next try after a start refused at the cluster's cap (CAP_POLL_MS, or sooner on an end). */
  private uncapTimer: ReturnType<typeof setTimeout> | undefined
  private uncapDue = 0
  /** Stops listening to the store's wake-ups (Store.listen), once it listens. */
  private unlisten: Promise<(() => Promise<void>) | undefined> | undefined

  constructor(private readonly opts: SupervisorOptions) {
    const { store, clock } = opts
    this.store = store
    this.state = initialSupervisorState(opts.maxConcurrentWorkflows)
    this.lease = new Lease(store, clock, opts.lease ?? DEFAULT_LEASE)
    // Where another node can take executions over while this one cannot reach the store (PostgreSQL: a proof may lapse
    // with a connection). On SQLite an engine that cannot write the file leaves nobody else able to claim from it.
    if (store.engines.proofMayLapse) {
      this.lease.onFence = () => this.fence()
      this.lease.onRenewed = () => this.unfence()
    }
    this.batcher = new CheckpointBatcher(store, clock, (c) => this.events.publish(c), { ...opts.batcher, owner: this.lease.owner })
    const commit = (t: Transition[]) => this.batcher.submit(t)
    this.slots = new TaskSlots(opts.maxConcurrentTasks, { commit, taskRun: (e, t) => store.executions.taskRun(e, t) })
    this.events = new EventHub({
      read: (id) => store.executions.get(id), mayLoseExecutions: store.engines.proofMayLapse,
      taskEnded: (e, t) => this.slots.taskEnded(e, t),
      settled: (id) => {
        this.mailbox.tell({ type: 'settled', executionId: id })
        this.watcher.wake() // a slot of its workflow may be free now
        this.children.wake() // it may be a subflow's child, its parent waiting here
        this.queueClaims.wake() // a slot here may be free for another node's queued work
        this.uncapSoon(WAKE_SOON_MS) // and one of the cluster's
      },
    })
    // Parked executions count: a child parked on a wait must still hear its parent's cancel, and an approval a decision.
    const busy = () => this.state.active.size > 0 || this.state.queue.length > 0 || this.events.tracking > 0
    this.watcher = new SlotWatcher({
      store, clock, owner: this.lease.owner, commit: (t) => this.batcher.submit(t), busy,
      enqueue: (id) => this.mailbox.tell({ type: 'enqueue', executionId: id }),
      cancel: (id, reason) => this.cancel(id, reason),
    })
    this.remoteDecisions = new RemoteDecisions({
      store, clock, owner: this.lease.owner, commit: (t) => this.batcher.submit(t), busy,
      decide: (id, path, decision) => this.decideHere(id, path, decision, false),
    })
    this.children = new ChildWatcher({
      store, clock, owner: this.lease.owner,
      tell: async (parentId, path, end) => {
        const plan = (await this.mailbox.ask({ type: 'locate', executionId: parentId }))!
        const w = plan.kind === 'onWorker' ? this.pool.find(plan.workerId) : undefined
        return w ? untilDeath(w, w.api.childEnded(parentId, path, end) as Promise<boolean>) : false
      },
      enqueue: (id) => this.mailbox.tell({ type: 'enqueue', executionId: id }),
      busy: () => this.events.tracking > 0,
    })
    this.recovery = new Recovery({
      store, clock, lease: this.lease, commit: (t, o) => this.batcher.submit(t, o), barrier: () => this.batcher.barrier(),
      runs: (id) => this.events.tracks(id), adopt: (id, wf) => this.events.track(id, wf), lost: (id) => this.takenElsewhere(id),
      enqueue: (id, front) => this.mailbox.tell({ type: 'enqueue', executionId: id, ...(front ? { front } : {}) }),
    })
    this.queueClaims = new QueueClaims({
      store, clock, owner: this.lease.owner,
      free: () => {
        const s = this.state
        return s.accepting && !s.fenced && !s.capped ? Math.max(0, s.maxConcurrent - s.active.size - s.queue.length) : 0
      },
      enqueue: async (claimed) => {
        // Held here now, as if created here: its waits, cancels, decisions and takeover are this engine's.
        for (const { id, workflowId } of claimed) {
          this.events.track(id, workflowId)
          this.mailbox.tell({ type: 'enqueue', executionId: id })
        }
        // Counted once the mailbox got to them: the next look sees them in the queue or on a worker.
        await this.mailbox.ask({ type: 'locate', executionId: claimed[claimed.length - 1]!.id })
      },
    })
    this.parking = new Parking({ store, clock, enqueue: (id) => this.mailbox.tell({ type: 'enqueue', executionId: id }) })
    const port = { batcher: this.batcher, slots: this.slots, ...(opts.secrets ? { secrets: opts.secrets } : {}),
      startChild: (r: ChildRequest) => startChild({
        store, maxDepth: opts.maxSubflowDepth ?? DEFAULT_MAX_SUBFLOW_DEPTH, admission: () => ({ accepting: this.state.accepting }),
        commit: (t) => this.batcher.submit(t, { atomic: true, durable: true }),
        launched: (id, workflow) => this.launched(id, workflow, clock.now()),
        ...(opts.localWorkflows ? { local: opts.localWorkflows } : {}),
      }, r),
      finished: (w: PooledWorker, id: string) => {
      this.pool.vacate(w, id)
      this.mailbox.tell({ type: 'finished', executionId: id })
      this.uncapSoon(WAKE_SOON_MS) // ended or parked: a place under the cluster's cap
      // It may have stopped parked (WAITING on a timer or a decision): then it runs again at its stored time.
      void this.parking.afterStop(id).catch(() => {})
    } }
    this.pool = new WorkerPool({
      size: opts.workers, port: (w) => workerPort(w, port), settings: opts.settings, onCrash: (w) => this.onWorkerCrash(w),
      ...(opts.workerIdleMs !== undefined ? { idleMs: opts.workerIdleMs } : {}),
    })
    this.dispatcher = new Dispatcher({
      store, pool: this.pool, commit,
      ...(opts.clusterMaxConcurrentWorkflows !== undefined ? { cap: opts.clusterMaxConcurrentWorkflows } : {}),
      capped: (id) => {
        this.mailbox.tell({ type: 'capped', executionId: id })
        this.uncapSoon(CAP_POLL_MS, true)
      },
      // Fenced (lease.ts): a batch under way hands nothing over; what it released is queued again on resume.
      accepting: () => this.state.accepting && !this.state.fenced,
      dispatched: (id, workerId) => this.mailbox.tell({ type: 'dispatched', executionId: id, workerId }),
      released: (id) => this.mailbox.tell({ type: 'released', executionId: id }),
      park: (id, workflowId) => this.watcher.park(id, workflowId),
      endedElsewhere: (rec) => this.events.endedElsewhere(rec),
      lost: (id) => this.events.untrack(id),
      retryLater: (id) => void setTimeout(() => this.mailbox.tell({ type: 'enqueue', executionId: id }), DISPATCH_RETRY_MS).unref?.(),
    })
    // The logic is pure and total: a throw there is a bug, and the engine must go on serving the others.
    this.mailbox = spawnActor<SupervisorInbox, CancelPlan | undefined>('supervisor', (m) => this.receive(m), { onCrash: () => 'resume' })
  }

  /** This engine's id in the store: its lease's owner (what `GET /api/v1/nodes` marks `self`). */
  get nodeId(): string {
    return this.lease.owner
  }

  /** Registers this engine's lease (the heartbeat renews it until shutdown). Never throws. */
  begin(): Promise<void> {
    this.watcher.start()
    this.children.start()
    this.remoteDecisions.start()
    // Other nodes' commits wake what waits for them (PostgreSQL); the polls stay, so a lost wake-up costs latency.
    this.unlisten = this.store.listen?.((w) => this.onWake(w)).catch(() => undefined)
    return this.lease.start()
  }

  /** Another engine asked about executions this one may hold, or ended ones this one may be waiting for. */
  private onWake(w: StoreWakeup): void {
    if (w.asked.some((id) => this.events.tracks(id))) {
      this.watcher.wake() // cancel requests
      this.remoteDecisions.wake()
    }
    if (w.created) this.queueClaims.created()
    // Taken from this engine's queue by another (queue-claims.ts): let go at once, not when the dispatch gets to it.
    for (const c of w.claimed) if (c.by !== this.lease.owner && this.events.tracks(c.id)) void this.takenElsewhere(c.id)
    const queued = w.ended.length > 0 && this.state.queue.length > 0 ? new Set(this.state.queue) : undefined
    for (const id of w.ended) {
      // Still in this engine's queue, so another engine ran it (it took it: queue-claims.ts, its notice lost): let go,
      // and its waiters here hear the end (the engine that ran it counts it, not this one).
      if (queued?.has(id)) void this.takenElsewhere(id).then(() => this.events.endedElsewhereNotice(id))
      else void this.events.endedElsewhereNotice(id)
    }
    if (w.ended.length > 0) {
      this.uncapSoon(WAKE_SOON_MS) // a place under the cluster's cap
      // A slot of a limited workflow may be free, or a child of a parent here ended: soon, once for a burst.
      if (this.watcher.waiting > 0) this.watcher.wakeSoon()
      if (this.events.tracking > 0) this.children.wakeSoon()
    }
  }

  /**
   * Another engine holds `id` now (it took it from this engine's queue): out of the queue, and no longer tracked here
   * (its waits here read the store; its takeover, should that engine die, is anyone's). Left alone while it is being
   * handed to a worker here: that dispatch's fenced commit lets it go.
   */
  private async takenElsewhere(id: string): Promise<void> {
    const plan = await this.mailbox.ask({ type: 'taken', executionId: id })
    if (plan?.kind === 'queued' || plan?.kind === 'notHere') this.events.untrack(id)
  }

  /**
   * While capped (the cluster's cap refused a start), dispatch again within `ms`: the sooner of two asks wins. `armed`:
   * the refusal itself, before the mailbox marks the state capped.
   */
  private uncapSoon(ms: number, armed = false): void {
    if (!armed && !this.state.capped && !this.uncapTimer) return
    const due = Date.now() + ms
    if (this.uncapTimer && this.uncapDue <= due) return
    clearTimeout(this.uncapTimer)
    this.uncapDue = due
    this.uncapTimer = setTimeout(() => {
      this.uncapTimer = undefined
      this.mailbox.tell({ type: 'uncapped' })
    }, ms)
    this.uncapTimer.unref?.()
  }

  /**
   * Resumes the executions whose engine is gone (see Recovery.onStart), and from then on takes over, at every
   * heartbeat, those of engines gone since (Recovery.sweep: a node lost mid-run).
   */
  async recover(): Promise<void> {
    await this.recovery.onStart()
    this.lease.onBeat = () => this.recovery.sweep()
    // Only an engine that takes work over takes queued work too (not `workflow run`'s, which runs one file and exits).
    this.queueClaims.start()
  }

  /**
   * Self-fencing (lease.ts): the lease could not be renewed for `ttl - renew`, so another node may take this engine's
   * executions over once it runs out. Before that, nothing is dispatched and every worker is stopped after killing
   * every attempt it runs (WorkerPool.fenceAll: processes and containers, nothing terminal committed).
   */
  private fence(): void {
    this.mailbox.tell({ type: 'fence' })
    const previous = this.fencing ?? Promise.resolve()
    // Not after the dispatcher's batches: one may wait on a commit the lost link holds (the pool gives it no worker).
    const timing = this.opts.lease ?? DEFAULT_LEASE
    this.fencing = previous.then(async () => {
      for (const w of await this.pool.fenceAll(Math.min(FENCE_GRACE_MS, timing.renewMs / 2))) {
        // What a stopped worker did not report (its channel closed first) is given back here, as for a crash.
        this.slots.releaseAll(w)
        for (const id of w.executions) this.mailbox.tell({ type: 'finished', executionId: id })
        w.executions.clear()
      }
    }).catch(() => {})
  }

  /**
   * The lease is renewed after a fence: once the fence's work is done and the dispatches it held released what they
   * had (the link is back, so their commits answer), what is still this engine's resumes, as after a crash
   * (Recovery.resumeOwn), and dispatching starts again.
   */
  private async unfence(): Promise<void> {
    await this.fencing
    await this.dispatcher.idle()
    await this.recovery.resumeOwn((id) => this.events.untrack(id), () => this.events.tracked())
    this.pool.release()
    this.mailbox.tell({ type: 'unfence' })
  }

  /** Validates inputs (INVALID_INPUT), creates the execution PENDING (durably) and queues it. */
  async start(req: StartRequest, opts: StartOptions = {}): Promise<ExecutionRecord> {
    const ctx = { accepting: this.state.accepting }
    let workflow: Workflow
    let revision = 0
    if (req.workflow) {
      const refused = admissionError(ctx, req.workflow.id, 'inline')
      if (refused) throw refused
      workflow = req.workflow
    } else {
      const id = req.workflowId ?? ''
      const rec = admit(ctx, id, id ? await this.store.workflows.get(id) : undefined)
      workflow = rec.workflow
      revision = rec.revision
    }
    const inputs = resolveInputs(workflow.inputs, req.inputs ?? {})
    const merged = mergeLabels(workflow.labels, req.labels, 'labels')
    if ('error' in merged) throw new AppError(ErrorCode.InvalidInput, merged.error.message, { path: merged.error.path, issue: merged.error.code })
    const labels = Object.keys(merged.labels).length > 0 ? { labels: merged.labels } : {}
    const now = this.opts.clock.now()
    const id = newExecutionId(now)
    // Batched with the turn's other creations into one fsynced commit: once this resolves, the execution survives
    // a power cut. All or nothing with its cron tick; a store that cannot be written answers STORAGE_UNAVAILABLE.
    const create: Transition[] = [{ kind: 'create', executionId: id, workflow, revision, inputs, trigger: req.trigger, ...labels }]
    if (opts.cronFire) create.push({ kind: 'cronFire', workflowId: workflow.id, executionId: id, ...opts.cronFire })
    const [created] = await this.batcher.submit(create, { atomic: true, failFast: true, durable: true })
    if (!created!.ok) throw new AppError(created!.error.code, created!.error.message, created!.error.details, created!.error.retryable === true)
    return this.launched(id, workflow, now)
  }

  /**
   * A created execution (started, or a subflow's child) goes on: the store applied the workflow's concurrency rule in
   * the creating commit, so it may wait for a slot, or have been created CANCELLED (cancel-new); cancel-oldest may
   * have asked older ones to stop.
   */
  private async launched(id: string, workflow: Workflow, now: number): Promise<ExecutionRecord> {
    const rec = (await this.store.executions.get(id))!
    this.events.emit({ type: 'execution', executionId: id, workflowId: workflow.id, state: 'PENDING', at: now })
    if (isTerminalExecution(rec.state)) {
      this.events.emit({ type: 'execution', executionId: id, workflowId: workflow.id, state: rec.state, at: now })
      return rec
    }
    this.events.track(id, workflow.id)
    if (rec.state === 'WAITING' && rec.reason === QUEUED_REASON) {
      this.events.emit({ type: 'execution', executionId: id, workflowId: workflow.id, state: 'WAITING', at: now })
      this.watcher.park(id, workflow.id, workflow.concurrency?.limit)
    } else {
      this.mailbox.tell({ type: 'enqueue', executionId: id })
    }
    if (workflow.concurrency?.behavior === 'cancel-oldest') this.watcher.wake()
    return rec
  }

  /** Idempotent; a queued execution is cancelled at once (durably), a running one by its worker. */
  async cancel(id: string, reason = 'cancelled by user'): Promise<ExecutionRecord> {
    const rec = await this.store.executions.get(id)
    if (!rec) throw new AppError(ErrorCode.NotFound, `execution ${id} not found`)
    if (isTerminalExecution(rec.state)) return rec
    const plan = (await this.mailbox.ask({ type: 'cancel', executionId: id }))!
    if (plan.kind === 'onWorker') {
      const w = this.pool.find(plan.workerId)
      // A worker that dies meanwhile never answers; its executions are recovered, and can be cancelled then.
      const taken = w ? await untilDeath(w, w.api.cancel(id, reason) as Promise<boolean>).catch(() => true) : true
      // It parked just before the cancel's turn: once off its worker, it is cancelled from the store.
      if (!taken) return this.cancelParked(id, reason)
      return rec
    }
    if (plan.kind === 'dispatching') return rec // the cancel follows it to its worker
    const snap = (await this.store.executions.snapshot(id))!
    // Not queued here: ours once the claim holds (its engine is gone); another live engine's to cancel otherwise.
    const claim: Transition[] = plan.kind === 'queued' ? [] : [{ kind: 'claim', executionId: id }]
    const t = [...claim, ...terminateUnfinished(id, snap.taskRuns, { to: 'CANCELLED', error: { code: ErrorCode.Cancelled, message: reason } })]
    // A queued one another engine took meanwhile (queue-claims.ts) is refused CONFLICT (fenced), as one it holds.
    const results = await this.batcher.submit(t, { failFast: true, durable: true, atomic: plan.kind === 'notHere' })
    const refused = results.find((r) => !r.ok && (r.error.code === ErrorCode.StorageUnavailable || r.error.code === ErrorCode.Conflict))
    if (refused && !refused.ok) {
      if (refused.error.code === ErrorCode.Conflict) {
        // A queued one another engine took: out of the queue already (the plan), and that engine's to track.
        if (plan.kind === 'queued') this.events.untrack(id)
        return this.askHolder(id, reason)
      }
      // Nothing was cancelled: the execution keeps its place and the caller may retry.
      if (plan.kind === 'queued') this.mailbox.tell({ type: 'cancelRefused', executionId: id, index: plan.index })
      throw new AppError(ErrorCode.StorageUnavailable, refused.error.message, refused.error.details, true)
    }
    return (await this.store.executions.get(id))!
  }

  /**
   * Another live engine runs `id` (a cancel sent to another node of a cluster): the request is committed on the
   * execution for that engine, whose slot watcher cancels it within its poll (SLOT_POLL_MS), its processes killed as by
   * a cancel sent to it; the answer is the execution as it is now (the API waits for its end). An engine that dies
   * first leaves the request to whoever takes the execution over.
   */
  private async askHolder(id: string, reason: string): Promise<ExecutionRecord> {
    const [asked] = await this.batcher.submit([{ kind: 'requestCancel', executionId: id, error: { code: ErrorCode.Cancelled, message: reason } }],
      { failFast: true, durable: true })
    if (asked && !asked.ok) {
      if (asked.error.code === ErrorCode.NotFound) throw new AppError(ErrorCode.NotFound, asked.error.message, asked.error.details)
      throw new AppError(ErrorCode.StorageUnavailable, asked.error.message, asked.error.details, true)
    }
    return (await this.store.executions.get(id))!
  }

  /** Re-runs a FAILED or CANCELLED execution in place, from the runs that did not succeed (see reruns.ts). */
  restart(id: string, by?: string): Promise<ExecutionRecord> {
    return restartExecution(this.rerunDeps(), id, by)
  }

  /** A new execution reusing the outputs of the tasks upstream of `req.from` in `id` (see reruns.ts). */
  async replay(id: string, req: ReplayRequest): Promise<ExecutionRecord> {
    const snap = await this.store.executions.snapshot(id)
    if (!snap) throw new AppError(ErrorCode.NotFound, `execution ${id} not found`, { id })
    return replayExecution(this.rerunDeps(), snap, req)
  }

  private rerunDeps(): RerunDeps {
    return {
      store: this.store, clock: this.opts.clock,
      commit: (t, o) => this.batcher.submit(t, o),
      locate: async (executionId) => (await this.mailbox.ask({ type: 'locate', executionId }))!,
      refused: () => admissionError({ accepting: this.state.accepting }, '', 'inline'),
      run: (executionId, workflowId) => {
        this.events.track(executionId, workflowId)
        this.mailbox.tell({ type: 'enqueue', executionId })
      },
      emit: (e) => this.events.emit(e),
    }
  }

  /**
   * A decision on an awaiting run (an approval), taken by the execution's actor (see decisions.ts); on an execution
   * another engine holds, by that engine, asked through the store (remote-decisions.ts).
   */
  decide(id: string, path: string, decision: Decision): Promise<TaskRunRecord> {
    return this.decideHere(id, path, decision, true)
  }

  private decideHere(id: string, path: string, decision: Decision, mayAsk: boolean): Promise<TaskRunRecord> {
    return decideTask({
      ...(mayAsk ? {
        askHolder: (executionId: string, taskId: string, d: Decision) => askHolder({
          store: this.store, clock: this.opts.clock, requestId: () => randomUUID(),
          commit: (t) => this.batcher.submit(t, { failFast: true, durable: true }),
        }, executionId, taskId, d),
      } : {}),
      store: this.store, clock: this.opts.clock,
      locate: async (executionId) => (await this.mailbox.ask({ type: 'locate', executionId }))!,
      worker: (workerId) => this.pool.find(workerId),
      decideParked: (executionId, taskId, d) => decideParked({
        store: this.store, clock: this.opts.clock, parking: this.parking,
        holds: (e) => this.events.tracks(e),
        locate: async (e) => (await this.mailbox.ask({ type: 'locate', executionId: e }))!,
        commit: (t) => this.batcher.submit(t, { durable: true }),
        steps: () => (this.steps ??= loadTaskKindModules(this.opts.settings.taskKindModules ?? [])
          .then((modules) => withKindModules(TASK_KINDS, TASK_STEPS, modules).steps)),
      }, executionId, taskId, d),
    }, id, path, decision)
  }

  /** A cancel its actor did not take (it parked meanwhile): again, once the execution has left its worker. */
  private async cancelParked(id: string, reason: string): Promise<ExecutionRecord> {
    const deadline = this.opts.clock.now() + 10_000
    while ((await this.mailbox.ask({ type: 'locate', executionId: id }))!.kind === 'onWorker' && this.opts.clock.now() < deadline) {
      await this.opts.clock.sleep(10)
    }
    return this.cancel(id, reason)
  }

  /** The record once terminal; rejects with the signal's reason when it aborts first (the waiter is gone then). */
  async waitFor(id: string, signal?: AbortSignal): Promise<ExecutionRecord> {
    const rec = await this.events.waitFor(id, signal)
    if (!rec) throw new AppError(ErrorCode.NotFound, `execution ${id} not found`)
    return rec
  }

  async snapshot(id: string): Promise<ExecutionSnapshot | undefined> {
    await this.batcher.flush()
    return this.store.executions.snapshot(id)
  }

  subscribe(listener: (e: EngineEvent) => void): () => void {
    return this.events.subscribe(listener)
  }

  /** The live worker threads (diagnostics, and the worker-crash tests). */
  workerThreads(): Worker[] {
    return this.pool.all().map((w) => w.worker)
  }

  /** The engine's end of each live worker's channel (diagnostics, and the shutdown tests: closed once shut down). */
  workerChannels(): MessagePort[] {
    return this.pool.all().map((w) => w.port)
  }

  stats(): EngineStats {
    return {
      runningExecutions: this.state.active.size, queuedExecutions: this.state.queue.length + this.watcher.waiting, runningTasks: this.slots.inUse,
      waitingTasks: this.slots.waiting, waitingForStore: this.batcher.waitingForStore, fenced: this.lease.fenced, fencedSince: this.lease.fencedSince, executionWaiters: this.events.waiting,
      workers: { alive: this.pool.all().length, ...this.pool.stats },
    }
  }

  /** Stops dispatching, waits up to `graceMs` for running executions, then interrupts the rest. */
  async shutdown(graceMs: number): Promise<void> {
    // No claim of other engines' queued work may land once shutdown began (it would sit here unqueued).
    this.queueClaims.stop()
    await this.queueClaims.idle()
    await this.mailbox.ask({ type: 'shutdown' })
    clearTimeout(this.uncapTimer)
    this.recovery.stop()
    this.watcher.stop()
    this.children.stop()
    this.remoteDecisions.stop()
    await (await this.unlisten)?.().catch(() => {})
    this.parking.stop()
    if (this.state.active.size) {
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve))
      const grace = new AbortController()
      await Promise.race([idle, this.opts.clock.sleep(graceMs, grace.signal).catch(() => {})])
      grace.abort()
    }
    // Past the grace period nobody waits for the store any more: what cannot be committed now is
    // recovered from the store on the next start, as after a crash.
    await this.batcher.stopWaiting()
    // A dispatch under way (a parked execution whose wake-up fired just now, a recovered one) settles first: it
    // hands nothing to a worker any more (see dispatch), so nothing starts behind the interrupt below.
    await this.dispatcher.idle()
    // Whatever is still running stops without a terminal state and resumes on the next start.
    await Promise.all(this.pool.all().map((w) => untilDeath(w, w.api.interruptAll()).catch(() => {})))
    await this.batcher.drain()
    // Every worker thread ends, and the engine's end of its channel is closed: nothing is left armed.
    await this.pool.close()
    await this.mailbox.stop()
    await this.lease.stop()
  }

  // ── the mailbox ─────────────────────────────────────────────────────────────

  private receive(m: SupervisorInbox): CancelPlan | undefined {
    const step = nextSupervisorState(this.state, m)
    this.state = step.state
    for (const e of step.effects) this.perform(e)
    return step.reply
  }

  private perform(e: SupervisorEffect): void {
    switch (e.type) {
      case 'dispatch':
        this.dispatcher.dispatch(e.executionId)
        return
      case 'cancelOnWorker': {
        const w = this.pool.find(e.workerId)
        if (w) {
          void untilDeath(w, w.api.cancel(e.executionId, 'cancelled by user') as Promise<boolean>)
            .then((taken) => (taken ? undefined : this.cancelParked(e.executionId, 'cancelled by user')))
            .catch(() => {})
        }
        return
      }
      case 'recoverCrashed':
        void this.recovery.afterCrash(e.executionId, e.crashes, e.giveUp).catch(() => {})
        return
      case 'idle':
        for (const w of this.idleWaiters.splice(0)) w()
        return
    }
  }

  private onWorkerCrash(w: PooledWorker): void {
    this.slots.releaseAll(w)
    this.mailbox.tell({ type: 'workerCrashed', workerId: w.id, executionIds: [...w.executions] })
    w.executions.clear()
  }
}
