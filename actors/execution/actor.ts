/** The execution actor: owns one execution's view, commits each step, then performs its effects. */

import type { Clock } from '../../runtime/clock.ts'
import { ErrorCode, toErrorInfo, type ErrorInfo } from '../../runtime/errors.ts'
import { terminateUnfinished } from '../../runtime/state/terminate.ts'
import type { Transition, TransitionResult } from '../../runtime/store/checkpoint.ts'
import type { ExecutionSnapshot } from '../../runtime/store/types.ts'
import type { RunPath } from '../../runtime/workflow/run-path.ts'
import type { PluginCall } from '../../runtime/workflow/tasks/kind.ts'
import { fileTemplates, type TaskFiles } from '../../runtime/workflow/tasks/files.ts'
import { spawnActor, type ActorRef } from '../kernel/actor.ts'
import type { SupervisorPort } from '../supervisor/protocol.ts'
import { executionError } from './failure.ts'
import { nextExecutionState } from './logic.ts'
import type { Decision, Effect, ExecutionInbox, ExecutionView, Iteration, TaskOutcome, TaskView } from './protocol.ts'
import { TASK_STEPS, type TaskSteps } from './steps/registry.ts'
import { EACH_TEMPLATE_SCOPE, TEMPLATE_SCOPE, type TaskFacts } from '../../runtime/expressions/scope.ts'
import { createView, tasksFor } from './view.ts'

/** One attempt of a plugin call, for the task actor. */
export interface TaskRun {
  path: RunPath
  attempt: number
  call: PluginCall
  signal: AbortSignal
  /** `tasks.<id>` (state, and output once succeeded) for the runs the call's templates name. */
  tasks: Record<string, TaskFacts>
  /** Why the main tasks failed (onFailure and finally tasks read it as `{{ execution.error }}`). */
  executionError?: ErrorInfo
  /** A forEach iteration's `item` and `index`, for its templates. */
  iteration?: Iteration
  /** Its RUNNING, when committed with the step that dispatched it (RunAttempt.slot). */
  slot?: 'held' | 'refused'
  /** The task's `outputFiles:` / `inputFiles:`, and what the execution had stored when the attempt started. */
  files?: TaskFiles & { executionBytes: number }
}

/** What the execution's runs have stored so far (`storage.files.maxExecutionBytes` counts against it). */
function storedBytes(view: ExecutionView): number {
  let n = 0
  for (const t of Object.values(view.tasks)) for (const f of t.files ?? []) n += f.size
  return n
}

/** What a message to the actor answers. */
export type Reply = ErrorInfo | 'gone' | undefined

export interface ExecutionActorDeps {
  port: SupervisorPort
  clock: Clock
  /** Runs one attempt of a plugin call (the task actor); never throws — failures are outcomes. */
  runTask(snapshot: ExecutionSnapshot, run: TaskRun): Promise<TaskOutcome>
  onStopped(executionId: string): void
  /** `storage.files.maxExecutionBytes`: checked here, where this execution's attempts are serialised, so attempts that ran at once cannot each spend the whole remainder. */
  maxExecutionBytes?: number
  /** The kinds' planning steps (default: the built-ins). */
  steps?: TaskSteps
  /**
   * Masks a value with the execution's masker (every secret its tasks resolved): the workflow's outputs pass
   * through it before they are stored, as task outputs do in the task actor.
   */
  mask?: (executionId: string, value: Record<string, unknown>) => Record<string, unknown>
  /** Items a forEach list may hold (config `limits.maxForEachItems`). */
  maxForEachItems?: number
  /**
   * The runner an attempt of `call` is recorded with (actors/task/actor.ts attemptRunner). Given, a step's commit
   * carries the RUNNING of the attempts it dispatches (one commit per task in a chain); absent, each task actor
   * begins its own.
   */
  runnerFor?: (call: PluginCall) => string
}

/** Throws on a refusal other than INVALID_TRANSITION (a transition already applied, or overtaken: a no-op). */
function check(results: TransitionResult[]): void {
  const bad = results.find((r) => !r.ok)
  if (bad && !bad.ok && bad.error.code !== ErrorCode.InvalidTransition) throw new Error(bad.error.message)
}

/** Rebuilds the actor's view from a stored snapshot. */
export function viewOf(snapshot: ExecutionSnapshot, opts: { maxForEachItems?: number } = {}): ExecutionView {
  const runs: Record<RunPath, TaskView> = {}
  for (const t of snapshot.taskRuns) {
    runs[t.taskId] = {
      state: t.state, attempt: t.attempt,
      ...(t.reason !== undefined ? { reason: t.reason } : {}),
      ...(t.output !== undefined ? { output: t.output } : {}),
      ...(t.error ? { error: t.error } : {}),
      ...(t.nextAttemptAt !== undefined ? { nextAttemptAt: t.nextAttemptAt } : {}),
      ...(t.attemptBase ? { attemptBase: t.attemptBase } : {}),
      ...(t.childExecutionId !== undefined ? { child: t.childExecutionId } : {}),
      ...(t.files?.length ? { files: t.files } : {}),
      ...(snapshot.childEnds?.[t.taskId] ? { childEnd: snapshot.childEnds[t.taskId] } : {}),
    }
  }
  return createView({
    executionId: snapshot.execution.id, workflow: snapshot.workflow, inputs: snapshot.execution.inputs, runs,
    ...(opts.maxForEachItems !== undefined ? { maxForEachItems: opts.maxForEachItems } : {}),
  })
}

export class ExecutionActor {
  private view: ExecutionView
  /** Each message's answer: a refusal of a `task.decide`, `gone` when it came after the actor was done (parked, ended), or nothing. */
  private readonly ref: ActorRef<ExecutionInbox, Reply>
  private readonly aborts = new Map<string, AbortController>()
  private readonly life = new AbortController()
  /** Fenced (fence()): nothing more is performed or committed, whatever its mailbox still holds. */
  private fenced = false
  /** The attempts in flight, until their runner is done with them (fence() waits for them). */
  private readonly running = new Set<Promise<void>>()

  constructor(private readonly snapshot: ExecutionSnapshot, private readonly deps: ExecutionActorDeps) {
    this.view = viewOf(snapshot, deps.maxForEachItems !== undefined ? { maxForEachItems: deps.maxForEachItems } : {})
    this.ref = spawnActor<ExecutionInbox, Reply>(`execution:${snapshot.execution.id}`, (m) => this.receive(m), {
      // A crash in the actor's own code must not hang the execution: fail it visibly.
      onCrash: (error) => this.failHard(toErrorInfo(error).message),
    })
  }

  get id(): string {
    return this.view.executionId
  }

  start(): void {
    this.armTimeout()
    this.ref.tell({ type: 'execution.start' })
  }

  tell(m: ExecutionInbox): void {
    this.ref.tell(m)
  }

  /**
   * Self-fencing (actors/supervisor/lease.ts): kills every attempt in flight now, outside the mailbox — a step may be
   * waiting for a commit that hangs on a lost link, and a message would wait behind it — and from now on performs
   * nothing: no effect, no commit, whatever the mailbox still holds or the pending commit answers. Resolves once the
   * runners are done with the killed attempts. The worker is stopped next; the store keeps the execution as it was,
   * for the engine's resume or another node's takeover.
   */
  fence(): Promise<void> {
    this.fenced = true
    for (const c of this.aborts.values()) c.abort('interrupt')
    this.life.abort()
    // Settled once every killed attempt's runner is done with it (its process reaped, its container removed).
    return Promise.allSettled([...this.running]).then(() => {})
  }

  /** Whether it has stopped taking messages (it ended, parked, or is being interrupted). */
  get stopped(): boolean {
    return this.ref.stopped
  }

  /**
   * A decision on an awaiting run: resolves once it is committed (undefined), with why it was refused, or `gone`
   * when the actor was done first (it parked or ended: the caller looks for the execution again). Rejects when the
   * actor has stopped.
   */
  decide(path: RunPath, decision: Decision): Promise<Reply> {
    return this.ref.ask({ type: 'task.decide', path, decision })
  }

  /** A cancel: `gone` when the actor was done before its turn (it parked: the execution is cancelled from the store). */
  cancel(reason: string): Promise<Reply> {
    return this.ref.ask({ type: 'execution.cancel', reason })
  }

  private async receive(m: ExecutionInbox): Promise<Reply> {
    if (this.fenced) return 'gone'
    // Done (parked or ended) before this message's turn: a decision or a cancel must find the execution again.
    if (this.view.phase === 'done' && (m.type === 'task.decide' || m.type === 'execution.cancel')) return 'gone'
    const step = nextExecutionState(this.view, m, this.deps.clock.now(), this.deps.steps ?? TASK_STEPS)
    this.view = step.view
    if (step.transitions.length) {
      const mask = this.deps.mask
      const transitions = mask
        ? step.transitions.map((t) => (t.kind === 'execution' && t.outputs ? { ...t, outputs: mask(this.id, t.outputs) } : t))
        : step.transitions
      const slots = await this.commit(transitions, step.effects)
      if (this.fenced) return 'gone' // fenced while it waited: no effect of this step starts
      try {
        for (const e of step.effects) this.perform(e, slots)
      } finally {
        // Slots no task actor took (an effect threw first): given back, or they would be lost to the engine.
        for (const [path, slot] of slots) if (slot === 'held') this.deps.port.endTask(this.id, path)
      }
      return step.refusal
    }
    for (const e of step.effects) this.perform(e)
    return step.refusal
  }

  /**
   * Commits a step's transitions before its effects (invariant 1). With them, in the same commit and round trip, the
   * RUNNING of each attempt the step dispatches whose task slot is free at once: the SUCCESS of one task and the
   * RUNNING of the next are one commit, and the next attempt's process still starts only after its RUNNING is
   * durable. Answers which attempts were begun so (their task actors hold the slot, or were refused).
   */
  private async commit(transitions: Transition[], effects: Effect[]): Promise<Map<RunPath, 'held' | 'refused'>> {
    const slots = new Map<RunPath, 'held' | 'refused'>()
    const runnerFor = this.deps.runnerFor
    const runs = runnerFor ? effects.filter((e) => e.type === 'runPlugin') : []
    if (!runs.length || !runnerFor) {
      check(await this.deps.port.checkpoint(transitions))
      return slots
    }
    const begins = runs.map((e) => ({ executionId: this.id, taskId: e.path, attempt: e.attempt, runner: runnerFor(e.call) }))
    const { results, begun } = await this.deps.port.checkpointAndBegin(transitions, begins)
    runs.forEach((e, i) => {
      const r = begun[i]
      if (r) slots.set(e.path, r.ok ? 'held' : 'refused')
    })
    try {
      check(results)
    } catch (e) {
      for (const [path, slot] of slots) if (slot === 'held') this.deps.port.endTask(this.id, path)
      throw e
    }
    return slots
  }

  private perform(e: Effect, slots?: Map<RunPath, 'held' | 'refused'>): void {
    switch (e.type) {
      case 'runPlugin': {
        const slot = slots?.get(e.path)
        slots?.delete(e.path)
        return this.runPlugin(e.path, e.attempt, e.call, e.iteration, e.files, slot)
      }
      case 'scheduleRetry':
        this.deps.clock.sleep(e.at - this.deps.clock.now(), this.life.signal).then(
          () => this.ref.tell({ type: 'task.retryDue', path: e.path }),
          () => {},
        )
        return
      case 'scheduleWake':
        this.deps.clock.sleep(e.at - this.deps.clock.now(), this.life.signal).then(
          () => this.ref.tell({ type: 'task.wake', path: e.path }),
          () => {},
        )
        return
      case 'startChild':
        this.deps.port.startChild(e.request).then(
          (r) => this.ref.tell({ type: 'task.childStarted', path: e.path, attempt: e.attempt, ...(r.ok ? {} : { error: r.error }) }),
          (error) => this.ref.tell({ type: 'task.childStarted', path: e.path, attempt: e.attempt, error: toErrorInfo(error) }),
        )
        return
      case 'abortTasks':
        for (const c of this.aborts.values()) c.abort(e.reason)
        return
      case 'finished':
        this.life.abort()
        void this.ref.stop()
        this.deps.onStopped(this.id)
        return
    }
  }

  /** Bytes this execution's successful attempts claimed (committed or about to be); undefined until the first claim. */
  private claimedBytes: number | undefined

  /** Counts a successful attempt's files against maxExecutionBytes; past it the attempt fails FILE_LIMIT_EXCEEDED with nothing recorded (its blobs are left to the GC). */
  private claimFiles(outcome: TaskOutcome): TaskOutcome {
    const max = this.deps.maxExecutionBytes
    if (!outcome.ok || !outcome.files?.length || max === undefined) return outcome
    const bytes = outcome.files.reduce((n, f) => n + f.size, 0)
    const claimed = this.claimedBytes ?? storedBytes(this.view)
    if (claimed + bytes > max) {
      return { ok: false, error: { code: ErrorCode.FileLimitExceeded, message: `the attempt's output files (${bytes} bytes) take the execution's stored files past storage.files.maxExecutionBytes (${Math.max(0, max - claimed)} bytes were left)`, details: { limit: 'execution', max: Math.max(0, max - claimed) } } }
    }
    this.claimedBytes = claimed + bytes
    return outcome
  }

  private runPlugin(path: RunPath, attempt: number, call: PluginCall, iteration: Iteration | undefined, files: TaskFiles | undefined, slot: 'held' | 'refused' | undefined): void {
    const abort = new AbortController()
    this.aborts.set(path, abort)
    // Only what the call's templates name: copying every output per attempt made a run O(tasks²).
    const tasks = tasksFor(this.view, [call.inputs, call.env ?? {}, fileTemplates(files)], iteration ? EACH_TEMPLATE_SCOPE : TEMPLATE_SCOPE)
    const { error } = executionError(this.view)
    const run = {
      path, attempt, call, signal: abort.signal, tasks, ...(error ? { executionError: error } : {}), ...(iteration ? { iteration } : {}),
      // Always: a task declaring no files may still read an upstream directory or leave one (docs/files.md#directories).
      // What the execution stored, counted once and then kept by claimFiles (not a walk of every run per attempt).
      files: { ...(files ?? {}), executionBytes: (this.claimedBytes ??= storedBytes(this.view)) },
      ...(slot ? { slot } : {}),
    }
    const running: Promise<void> = this.deps.runTask(this.snapshot, run).then(
      (outcome) => {
        this.aborts.delete(path)
        this.ref.tell({ type: 'task.finished', path, attempt, outcome: this.claimFiles(outcome) })
      },
      (error) => {
        this.aborts.delete(path)
        this.ref.tell({ type: 'task.finished', path, attempt, outcome: { ok: false, error: toErrorInfo(error) } })
      },
    ).finally(() => this.running.delete(running))
    this.running.add(running)
  }

  private armTimeout(): void {
    const timeoutMs = this.snapshot.workflow.timeoutMs
    if (!timeoutMs) return
    const startedAt = this.snapshot.execution.startedAt ?? this.deps.clock.now()
    // Due already (a resumed or parked execution): before `execution.start`, so nothing is dispatched first.
    if (startedAt + timeoutMs <= this.deps.clock.now()) return this.ref.tell({ type: 'execution.timeout' })
    this.deps.clock.sleep(startedAt + timeoutMs - this.deps.clock.now(), this.life.signal).then(
      () => this.ref.tell({ type: 'execution.timeout' }),
      () => {},
    )
  }

  /** The actor's own code threw: fail every unfinished task and the execution, visibly, rather than hang. */
  private failHard(message: string): void {
    if (this.fenced) return // its commit failed because the engine is fenced: nothing is committed from here
    for (const c of this.aborts.values()) c.abort('crash')
    this.life.abort()
    const error = { code: ErrorCode.Internal, message: `execution actor crashed: ${message}` }
    const runs = Object.entries(this.view.tasks).map(([taskId, t]) => ({ taskId, state: t.state }))
    void this.deps.port.checkpoint(terminateUnfinished(this.id, runs, { to: 'FAILED', error })).finally(() => this.deps.onStopped(this.id))
  }
}
