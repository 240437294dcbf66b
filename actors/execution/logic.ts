/**
 * The execution actor's transition: (view, message, now) → (view, transitions to commit, effects). The actor
 * commits the transitions, then performs the effects: checkpoint before effect. What a run does when it
 * starts is its kind's step (steps/registry.ts); this module only orders runs, retries and ends them.
 * Deterministic: runs that become ready together start in declaration order, and backoff has no jitter.
 */

import { assertNever, ErrorCode, isRetryable, toErrorInfo, type ErrorInfo } from '../../runtime/errors.ts'
import { isConditionSkip, isOutsideWait, isTerminalTask, SkipReason, WaitReason, type TaskRunState } from '../../runtime/state/states.ts'
import { terminateUnfinished } from '../../runtime/state/terminate.ts'
import type { TaskTransition, Transition } from '../../runtime/store/checkpoint.ts'
import type { RetryPolicy } from '../../runtime/workflow/model.ts'
import type { RunPath } from '../../runtime/workflow/run-path.ts'
import { renderValue } from '../../runtime/workflow/template.ts'
import type { AnyTaskDef } from '../../runtime/workflow/model.ts'
import { childEndedRun, decideRun, parkIfIdle, wakeRun, type AttemptAudit, type AwaitHost } from './awaits.ts'
import { childExecutionId } from '../../runtime/ids.ts'
import type { Effect, ExecutionInbox, ExecutionView, Iteration, Step, TaskOutcome, TaskView } from './protocol.ts'
import { TASK_STEPS, type TaskSteps } from './steps/registry.ts'
import type { Dispatch, StepScope, TaskStep } from './steps/step.ts'
import { decideInView } from './condition.ts'
import { EACH_TEMPLATE_SCOPE } from '../../runtime/expressions/scope.ts'
import { splitIteration } from './foreach.ts'
import { fillGroup, groupOf, iterationFor, settleIteration, startGroup, type ForEachHost } from './foreach-planning.ts'
import { executionError, taskFailure } from './failure.ts'
import { renderOutputs } from './outputs.ts'
import { everyRun, openList, satisfies, tasksFor, waitClass } from './view.ts'

/** Backoff before attempt `failedAttempt + 1`: fixed, or doubling from `delay` up to `maxDelay`. No jitter. */
export function backoffDelay(retry: RetryPolicy, failedAttempt: number): number {
  const { type, delayMs, maxDelayMs } = retry.backoff
  const raw = type === 'fixed' ? delayMs : delayMs * 2 ** Math.max(0, failedAttempt - 1)
  return maxDelayMs === undefined ? raw : Math.min(raw, maxDelayMs)
}

/**
 * The next step of an execution. The view is updated in place and returned in the step (see ExecutionView);
 * `steps` are the kinds' planning steps (the built-ins unless an engine adds its own).
 */
export function nextExecutionState(view: ExecutionView, msg: ExecutionInbox, now: number, steps: TaskSteps = TASK_STEPS): Step {
  const s = new Planner(view, now, steps)
  switch (msg.type) {
    case 'execution.start': return s.onStart().advance().done()
    case 'task.finished': return s.onFinished(msg.path, msg.attempt, msg.outcome).advance().done()
    case 'task.retryDue': return s.onRetryDue(msg.path).advance().done()
    case 'execution.cancel': return s.onStop('cancelling', { code: ErrorCode.Cancelled, message: msg.reason }).advance().done()
    case 'execution.timeout': {
      const error = { code: ErrorCode.ExecutionTimedOut, message: 'execution timed out' }
      return s.onStop('timingOut', error).advance().done()
    }
    case 'execution.interrupt': return s.onInterrupt().advance().done()
    case 'task.wake': return s.with(() => wakeRun(s, msg.path)).advance().done()
    case 'task.decide': return s.with(() => decideRun(s, msg.path, msg.decision)).advance().done()
    case 'task.childStarted': return s.onChildStarted(msg.path, msg.attempt, msg.error).advance().done()
    case 'task.childEnded': return s.with(() => childEndedRun(s, msg.path, msg.end)).advance().done()
    default: return assertNever(msg)
  }
}

/** One message's planning. What the await and forEach handlers use of it is public: AwaitHost (awaits.ts), ForEachHost (foreach-planning.ts). */
class Planner implements AwaitHost, ForEachHost {
  readonly transitions: Transition[] = []
  readonly effects: Effect[] = []
  readonly scope: StepScope
  private refusal: ErrorInfo | undefined

  constructor(readonly view: ExecutionView, readonly now: number, private readonly steps: TaskSteps) {
    this.scope = {
      executionId: view.executionId,
      workflowId: view.workflow.id,
      inputs: view.inputs,
      render: (value) => renderValue(value, {
        inputs: { ...view.inputs },
        tasks: tasksFor(view, value),
        secrets: {},
        execution: { id: view.executionId, workflowId: view.workflow.id, ...executionError(view) },
      }),
    }
  }

  /** The scope a run's step renders with: an iteration's also has its `item` and `index`. */
  private scopeFor(iteration: Iteration | undefined): StepScope {
    if (!iteration) return this.scope
    const view = this.view
    return {
      ...this.scope,
      render: (value) => renderValue(value, {
        inputs: { ...view.inputs },
        tasks: tasksFor(view, value, EACH_TEMPLATE_SCOPE),
        secrets: {},
        execution: { id: view.executionId, workflowId: view.workflow.id, ...executionError(view) },
        item: iteration.item,
        index: iteration.index,
      }, EACH_TEMPLATE_SCOPE),
    }
  }

  done(): Step {
    const step: Step = { view: this.view, transitions: this.transitions, effects: this.effects }
    if (this.refusal) step.refusal = this.refusal
    return step
  }

  get id(): string {
    return this.view.executionId
  }

  /** Runs one handler, for chaining. */
  with(handler: () => void): this {
    handler()
    return this
  }

  refuse(error: ErrorInfo): void {
    this.refusal = error
  }

  stepOf(kind: string): TaskStep | undefined {
    return Object.hasOwn(this.steps, kind) ? this.steps[kind] : undefined
  }

  set(path: RunPath, patch: Partial<TaskView>): void {
    const before = this.view.tasks[path]!
    const after = { ...before, ...patch }
    this.view.tasks[path] = after
    // Every change of a run goes through here, so the wait counters stay exact at O(1) a change.
    const [was, is] = [waitClass(before), waitClass(after)]
    if (was !== is) {
      if (was) this.view.plan[was]--
      if (is) this.view.plan[is]++
    }
  }

  /**
   * First message: re-arm the waits a resumed execution holds, from the stored times — a retry's (dispatch
   * happens on RetryDue) and an awaiting run's wake-up time (a durable wait, an approval's deadline), so a wait
   * that was due while the engine was down fires now, and one that was not fires when it was meant to.
   */
  onStart(): this {
    if (this.view.phase !== 'running') return this
    for (const path of everyRun(this.view)) {
      const run = this.view.tasks[path]!
      // A subflow's child ended while the parent was parked, queued or down: its end was read with the snapshot.
      if (run.state === 'WAITING' && run.childEnd) {
        childEndedRun(this, path, run.childEnd)
        continue
      }
      if (run.state !== 'WAITING' || run.nextAttemptAt === undefined || this.view.inFlight.has(path)) continue
      const at = Math.max(this.now, run.nextAttemptAt)
      // Due already (it came while the engine was down, or this is a parked execution woken for it): now, in this
      // step, so the execution does not park again before its timer could fire.
      if (isOutsideWait(run.reason) && run.nextAttemptAt <= this.now) wakeRun(this, path)
      // Any other stored wait with a due time is a retry's (as before typed reasons, whatever a row says).
      else this.effects.push({ type: isOutsideWait(run.reason) ? 'scheduleWake' : 'scheduleRetry', path, at })
    }
    return this
  }

  onFinished(path: RunPath, attempt: number, outcome: TaskOutcome): this {
    this.view.inFlight.delete(path)
    const run = this.view.tasks[path]
    if (!run || isTerminalTask(run.state) || run.attempt !== attempt) return this
    // Interrupted for shutdown: leave the attempt RUNNING in the store; recovery gives it back on restart.
    if (this.view.phase === 'interrupting' && !outcome.ok) return this
    return this.conclude(path, attempt, outcome)
  }

  /**
   * An attempt's outcome: SUCCESS, a retry wait while the task's `retry` allows one, or FAILED. `audit` names
   * the event that records it instead of the one its state implies (a decision: APPROVED, REJECTED).
   */
  conclude(path: RunPath, attempt: number, outcome: TaskOutcome, audit?: AttemptAudit): this {
    const recorded = audit ? { auditType: audit.type, auditData: audit.data } : {}
    if (outcome.ok) {
      const files = outcome.files?.length ? { files: outcome.files } : {}
      this.set(path, { state: 'SUCCESS', output: outcome.output, ...files })
      this.transitions.push({ kind: 'task', executionId: this.id, taskId: path, to: 'SUCCESS', output: outcome.output, ...files, ...recorded })
      this.settle(path, 'SUCCESS')
      return this
    }
    const timedOut = outcome.error.code === ErrorCode.TaskTimedOut
    const retry = this.taskAt(path)?.retry
    // After a restart, the attempts before it do not count: the task gets its whole retry budget again.
    const tried = attempt - (this.view.tasks[path]?.attemptBase ?? 0)
    const canRetry = this.view.phase === 'running' && retry !== undefined && tried <= retry.max &&
      isRetryable(outcome.error.code)
    if (canRetry) {
      const at = this.now + backoffDelay(retry, tried)
      this.set(path, { state: 'WAITING', reason: WaitReason.RetryBackoff, error: outcome.error, nextAttemptAt: at })
      this.transitions.push({
        kind: 'task', executionId: this.id, taskId: path, to: 'WAITING', reason: WaitReason.RetryBackoff, error: outcome.error,
        nextAttemptAt: at, ...(timedOut ? { auditType: 'TIMEOUT' as const } : {}),
      })
      this.effects.push({ type: 'scheduleRetry', path, at })
      return this
    }
    this.set(path, { state: 'FAILED', error: outcome.error })
    this.transitions.push({
      kind: 'task', executionId: this.id, taskId: path, to: 'FAILED', error: outcome.error,
      ...(timedOut ? { auditType: 'TIMEOUT' as const } : {}), ...recorded,
    })
    this.settle(path, 'FAILED')
    return this
  }

  /**
   * The engine answered a child's start. Until then the run was in flight (the execution could not park before its
   * WAITING was committed). Refused (nothing committed: the store still has the run as it was), the attempt fails
   * — unless a cancel or a timeout ended the run meanwhile. Taken, a wake-up that came while in flight is due now.
   */
  onChildStarted(path: RunPath, attempt: number, error?: ErrorInfo): this {
    if (!this.view.inFlight.delete(path)) return this
    const run = this.view.tasks[path]
    if (run?.state !== 'WAITING' || run.reason !== WaitReason.Subflow || run.attempt !== attempt - 1) return this
    if (error && (this.view.phase === 'interrupting' || error.code === ErrorCode.Interrupted)) {
      // The engine is stopping and nothing was committed: the run stays as the store has it, and starts its child
      // after the restart (the same attempt, so the same child id).
      this.set(path, { state: 'PENDING', reason: undefined, nextAttemptAt: undefined, child: undefined })
      return this
    }
    if (error) {
      this.set(path, { state: 'RUNNING', attempt, nextAttemptAt: undefined, child: undefined })
      this.transitions.push({ kind: 'task', executionId: this.id, taskId: path, to: 'RUNNING', attempt })
      return this.conclude(path, attempt, { ok: false, error })
    }
    if (run.nextAttemptAt !== undefined && run.nextAttemptAt <= this.now) wakeRun(this, path)
    return this
  }

  onRetryDue(path: RunPath): this {
    const run = this.view.tasks[path]
    const task = this.taskAt(path)
    if (this.view.phase !== 'running' || run?.state !== 'WAITING' || this.view.inFlight.has(path) || task === undefined) return this
    const it = splitIteration(path)
    const g = it && groupOf(this.view, it.parent)
    if (g) this.dispatchRun(path, task, iterationFor(this, g, it.index))
    else this.dispatchRun(path, task)
    return this
  }

  /** Cancel or timeout: every unfinished task ends now (committed first), then running attempts are aborted. */
  onStop(phase: 'cancelling' | 'timingOut', error: ErrorInfo): this {
    if (this.view.phase !== 'running' && this.view.phase !== 'interrupting') return this
    this.view.phase = phase
    this.view.stopError = error
    const to = phase === 'cancelling' ? 'CANCELLED' : 'FAILED'
    const runs = [...everyRun(this.view)].map((path) => ({ taskId: path, state: this.view.tasks[path]!.state }))
    // The execution itself ends in finishIfDone, once its running attempts are gone.
    for (const t of terminateUnfinished(this.id, runs, { to, error, ...(phase === 'timingOut' ? { auditType: 'TIMEOUT' as const } : {}) }, { tasksOnly: true })) {
      this.transitions.push(t)
      if (t.kind !== 'task') continue
      this.set(t.taskId, { state: to, error })
      this.settle(t.taskId, to)
    }
    if (this.view.inFlight.size) this.effects.push({ type: 'abortTasks', reason: phase === 'cancelling' ? 'cancel' : 'timeout' })
    return this
  }

  onInterrupt(): this {
    if (this.view.phase !== 'running') return this
    this.view.phase = 'interrupting'
    if (this.view.inFlight.size) this.effects.push({ type: 'abortTasks', reason: 'interrupt' })
    return this
  }

  /**
   * A run reached a terminal state: count it, and tell its dependents — each waits on one need fewer after a
   * SUCCESS, an allowed failure or a skip by a condition (and is ready at none), and is to be skipped after anything else.
   */
  settle(path: RunPath, to: TaskRunState, reason?: string): void {
    const plan = this.view.plan
    const at = plan.position.get(path)
    if (at === undefined) return settleIteration(this, path, to)
    plan.unfinished--
    plan.unfinishedIn[plan.listOf[at]!]!--
    const task = plan.tasks[at]!
    if (to === 'FAILED') {
      if (task.allowFailure) plan.allowedFailures.push(at)
      else if (plan.listOf[at] === 0) plan.firstFailed = plan.firstFailed < 0 || at < plan.firstFailed ? at : plan.firstFailed
      else plan.laterFailed = plan.laterFailed < 0 || at < plan.laterFailed ? at : plan.laterFailed
    }
    const ok = satisfies(task, to)
    const skippedByCondition = isConditionSkip(to, reason)
    for (const d of plan.dependents[at]!) {
      if (!ok && !skippedByCondition) plan.blocked.push(d)
      else {
        if (skippedByCondition) plan.skippedNeed[d] = 1
        if (--plan.waitingOn[d]! === 0) plan.ready.push(d)
      }
    }
  }

  /**
   * Once the main list has ended by itself: onFailure opens if it failed (its tasks are skipped otherwise,
   * NO_FAILURE), then finally once onFailure has ended. A cancel or a timeout opens neither (onStop ends them).
   * Pure function of the runs' states, so a resumed execution takes the same turn. True when it opened one.
   */
  private openNext(): boolean {
    const { plan, tasks } = this.view
    if (plan.unfinishedIn[0]! > 0) return false
    if (!plan.opened[1]) {
      if (plan.firstFailed >= 0) {
        openList(plan, tasks, 1)
        return true
      }
      for (let i = 0; i < plan.tasks.length; i++) {
        const path = plan.paths[i]!
        if (plan.listOf[i] !== 1 || tasks[path]!.state !== 'PENDING') continue
        this.set(path, { state: 'SKIPPED', reason: 'NO_FAILURE' })
        this.transitions.push({ kind: 'task', executionId: this.id, taskId: path, to: 'SKIPPED', reason: 'NO_FAILURE' })
        this.settle(path, 'SKIPPED')
      }
      plan.opened[1] = true
    }
    if (!plan.opened[2] && plan.unfinishedIn[1] === 0) {
      openList(plan, tasks, 2)
      return true
    }
    return false
  }

  /** Ends a run that never started: SKIPPED (with why), committed in this step's batch before anything it frees is dispatched. */
  skip(path: RunPath, reason: SkipReason): void {
    this.set(path, { state: 'SKIPPED', reason })
    this.transitions.push({ kind: 'task', executionId: this.id, taskId: path, to: 'SKIPPED', reason })
    this.settle(path, 'SKIPPED', reason)
  }

  /**
   * Whether a ready task starts. Its own `if:` decides (also when a need was skipped by a condition: the rule in
   * docs/workflows.md#conditions-if); without one, a task behind a condition-skipped need is skipped too.
   * Evaluated once, before the first attempt: retries do not ask again.
   */
  private gate(at: number): 'run' | 'settled' {
    const task = this.view.plan.tasks[at]!
    const path = this.view.plan.paths[at]!
    // A forEach task's `if:` is decided per iteration, with its `item` (gateIteration); the task itself runs.
    if (task.forEach !== undefined && task.if !== undefined) return 'run'
    if (task.if === undefined) {
      if (!this.view.plan.skippedNeed[at]) return 'run'
      this.skip(path, SkipReason.DependencySkipped)
      return 'settled'
    }
    const c = decideInView(task.if, this.view)
    if (c.type === 'run') return 'run'
    if (c.type === 'skip') this.skip(path, SkipReason.ConditionFalse)
    else {
      this.set(path, { state: 'FAILED', error: c.error })
      this.transitions.push({ kind: 'task', executionId: this.id, taskId: path, to: 'FAILED', error: c.error })
      this.settle(path, 'FAILED')
    }
    return 'settled'
  }

  taskAt(path: RunPath): AnyTaskDef | undefined {
    const plan = this.view.plan
    const at = plan.position.get(path) ?? plan.position.get(splitIteration(path)?.parent ?? '')
    return at === undefined ? undefined : plan.tasks[at]
  }

  /** Starts the task at `at`: its next attempt, or a forEach task's iterations. */
  private dispatch(at: number): void {
    const task = this.view.plan.tasks[at]!
    if (task.forEach !== undefined) return startGroup(this, at)
    this.dispatchRun(this.view.plan.paths[at]!, task)
  }

  /** Starts the next attempt of the run at `path` through its task's kind's step, and acts on what the step says. */
  dispatchRun(path: RunPath, task: AnyTaskDef, iteration?: Iteration): void {
    const attempt = this.view.tasks[path]!.attempt + 1
    this.set(path, { attempt, nextAttemptAt: undefined })
    const step = this.stepOf(task.kind)
    let d: Dispatch
    try {
      d = step
        ? step.start(task, { path, attempt, now: this.now }, this.scopeFor(iteration))
        : { type: 'finish', outcome: { ok: false, error: { code: ErrorCode.InvalidWorkflow, message: `task kind "${task.kind}" is not known to this engine` } } }
    } catch (e) {
      d = { type: 'finish', outcome: { ok: false, error: toErrorInfo(e) } }
    }
    switch (d.type) {
      case 'runPlugin':
        this.view.inFlight.add(path)
        this.effects.push({ type: 'runPlugin', path, attempt, call: d.call, ...(iteration ? { iteration } : {}), ...(task.files ? { files: task.files } : {}) })
        return
      case 'finish':
        // No process and no slot: RUNNING is this step's to commit, in the same batch as the outcome.
        this.set(path, { state: 'RUNNING' })
        this.transitions.push({ kind: 'task', executionId: this.id, taskId: path, to: 'RUNNING', attempt })
        this.conclude(path, attempt, d.outcome)
        return
      case 'await': {
        // No attempt yet: the attempt is the instant the wait ends (wake or decision), committed RUNNING then.
        const at = d.until
        this.set(path, { state: 'WAITING', reason: d.reason, attempt: attempt - 1, nextAttemptAt: at })
        this.transitions.push({
          kind: 'task', executionId: this.id, taskId: path, to: 'WAITING', reason: d.reason,
          ...(at !== undefined ? { nextAttemptAt: at } : {}),
        })
        if (at !== undefined) this.effects.push({ type: 'scheduleWake', path, at: Math.max(this.now, at) })
        return
      }
      case 'startChild': {
        // Committed by the engine with the child's creation (one request), not in this step's batch: the child's
        // workflow, inputs and depth are the engine's to check. In flight until it answers, so nothing parks first.
        const child = childExecutionId(this.id, path, attempt)
        const at = d.until
        this.set(path, { state: 'WAITING', reason: WaitReason.Subflow, attempt: attempt - 1, nextAttemptAt: at, child, childEnd: undefined })
        this.view.inFlight.add(path)
        const waiting: TaskTransition = {
          kind: 'task', executionId: this.id, taskId: path, to: 'WAITING', reason: WaitReason.Subflow, child,
          ...(at !== undefined ? { nextAttemptAt: at } : {}),
        }
        this.effects.push({ type: 'startChild', path, attempt, request: { parentId: this.id, taskId: path, childId: child, workflowId: d.workflowId, inputs: d.inputs, waiting } })
        if (at !== undefined) this.effects.push({ type: 'scheduleWake', path, at: Math.max(this.now, at) })
        return
      }
      default:
        return assertNever(d)
    }
  }

  /**
   * Skips the runs behind a failure and starts the ready ones (their `if:` first), first-declared first, until
   * neither is left (a skip or an immediate finish can free more); then ends the execution when nothing is left.
   */
  advance(): this {
    const { plan, tasks, inFlight } = this.view
    while (this.view.phase === 'running' && (plan.refill.length > 0 || plan.blocked.size > 0 || plan.ready.size > 0 || this.openNext())) {
      if (plan.refill.length > 0) {
        const g = plan.groups.get(plan.refill.pop()!)
        if (g) fillGroup(this, g)
        continue
      }
      if (plan.blocked.size === 0 && plan.ready.size === 0) continue // a list opened empty, or with only skips done
      const skipping = plan.blocked.size > 0
      const at = skipping ? plan.blocked.pop() : plan.ready.pop()
      const path = plan.paths[at]!
      if (tasks[path]!.state !== 'PENDING' || inFlight.has(path)) continue // settled or started since it was queued
      if (skipping) this.skip(path, SkipReason.DependencyFailed)
      else if (this.gate(at) === 'run') this.dispatch(at)
    }
    this.finishIfDone()
    return this
  }

  private finishIfDone(): void {
    const v = this.view
    if (v.phase === 'done' || v.inFlight.size > 0) return
    if (v.phase === 'interrupting') {
      v.phase = 'done'
      this.effects.push({ type: 'finished' })
      return
    }
    if (v.plan.unfinished > 0) return parkIfIdle(this)
    const failedAt = v.plan.firstFailed >= 0 ? v.plan.firstFailed : v.plan.laterFailed
    const failed = failedAt >= 0 ? v.plan.paths[failedAt] : undefined
    if (v.phase === 'cancelling') {
      this.transitions.push({ kind: 'execution', executionId: this.id, to: 'CANCELLED', error: v.stopError ?? { code: ErrorCode.Cancelled, message: 'cancelled' } })
    } else if (v.phase === 'timingOut') {
      this.transitions.push({ kind: 'execution', executionId: this.id, to: 'FAILED', auditType: 'TIMEOUT', error: v.stopError })
    } else if (failed) {
      this.transitions.push({ kind: 'execution', executionId: this.id, to: 'FAILED', error: taskFailure(v, failed) })
    } else {
      const rendered = renderOutputs(v)
      const outputs = rendered?.ok ? { outputs: rendered.outputs } : {}
      if (rendered && !rendered.ok) {
        this.transitions.push({ kind: 'execution', executionId: this.id, to: 'FAILED', error: rendered.error })
      } else if (v.plan.allowedFailures.length > 0) {
        // The warning flag: SUCCESS, with the tasks that failed as allowed named in its audit event.
        const allowed = [...v.plan.allowedFailures].sort((a, b) => a - b).map((i) => v.plan.paths[i]!)
        this.transitions.push({ kind: 'execution', executionId: this.id, to: 'SUCCESS', reason: 'ALLOWED_FAILURE', auditData: { allowedFailures: allowed }, ...outputs })
      } else {
        this.transitions.push({ kind: 'execution', executionId: this.id, to: 'SUCCESS', ...outputs })
      }
    }
    v.phase = 'done'
    this.effects.push({ type: 'finished' })
  }
}
