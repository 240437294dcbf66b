/**
 * The execution actor's pure transition: (view, message, now) → (view, transitions to commit, effects).
 * The actor commits the transitions, then performs the effects: checkpoint before effect.
 */

import { assertNever, ErrorCode, type ErrorInfo } from '../../runtime/errors.ts'
import { isTerminalTask } from '../../runtime/state/states.ts'
import { terminateUnfinished } from '../../runtime/state/terminate.ts'
import type { Transition } from '../../runtime/store/checkpoint.ts'
import type { RetryPolicy, TaskDef } from '../../runtime/workflow/model.ts'
import type { Effect, ExecutionInbox, ExecutionView, Step, TaskOutcome, TaskView } from './protocol.ts'

/** Errors a retry cannot fix. */
const NON_RETRYABLE = new Set<string>([
  ErrorCode.PermissionDenied, ErrorCode.InvalidTaskInput, ErrorCode.TemplateError, ErrorCode.SecretNotFound,
  ErrorCode.PluginNotFound, ErrorCode.InvalidManifest, ErrorCode.SandboxUnavailable, ErrorCode.Cancelled,
  ErrorCode.ExecutionTimedOut, ErrorCode.InvalidWorkflow,
])

/** Backoff before attempt `failedAttempt + 1`: fixed, or doubling from `delay` up to `maxDelay`. No jitter. */
export function backoffDelay(retry: RetryPolicy, failedAttempt: number): number {
  const { type, delayMs, maxDelayMs } = retry.backoff
  const raw = type === 'fixed' ? delayMs : delayMs * 2 ** Math.max(0, failedAttempt - 1)
  return maxDelayMs === undefined ? raw : Math.min(raw, maxDelayMs)
}

export function nextExecutionState(view: ExecutionView, msg: ExecutionInbox, now: number): Step {
  const s = new StepBuilder(view)
  switch (msg.type) {
    case 'execution.start': return s.advance(now).done()
    case 'task.finished': return s.onFinished(msg.taskId, msg.attempt, msg.outcome, now).advance(now).done()
    case 'task.retryDue': return s.onRetryDue(msg.taskId).advance(now).done()
    case 'execution.cancel': return s.onStop('cancelling', { code: ErrorCode.Cancelled, message: msg.reason }).advance(now).done()
    case 'execution.timeout': {
      const error = { code: ErrorCode.ExecutionTimedOut, message: 'execution timed out' }
      return s.onStop('timingOut', error).advance(now).done()
    }
    case 'execution.interrupt': return s.onInterrupt().advance(now).done()
    default: return assertNever(msg)
  }
}

class StepBuilder {
  private view: ExecutionView
  private transitions: Transition[] = []
  private effects: Effect[] = []

  constructor(v: ExecutionView) {
    this.view = { ...v, tasks: { ...v.tasks }, inFlight: [...v.inFlight] }
  }

  done(): Step {
    return { view: this.view, transitions: this.transitions, effects: this.effects }
  }

  private get id() {
    return this.view.executionId
  }

  private set(taskId: string, patch: Partial<TaskView>): void {
    this.view.tasks[taskId] = { ...this.view.tasks[taskId]!, ...patch }
  }

  private taskDef(taskId: string): TaskDef {
    return this.view.workflow.tasks.find((t) => t.id === taskId)!
  }

  onFinished(taskId: string, attempt: number, outcome: TaskOutcome, now: number): this {
    this.view.inFlight = this.view.inFlight.filter((t) => t !== taskId)
    const task = this.view.tasks[taskId]
    if (!task || isTerminalTask(task.state) || task.attempt !== attempt) return this
    // Interrupted for shutdown: leave the attempt RUNNING in the store; recovery gives it back on restart.
    if (this.view.phase === 'interrupting' && !outcome.ok) return this
    if (outcome.ok) {
      this.set(taskId, { state: 'SUCCESS', output: outcome.output })
      this.transitions.push({ kind: 'task', executionId: this.id, taskId, to: 'SUCCESS', output: outcome.output })
      return this
    }
    const timedOut = outcome.error.code === ErrorCode.TaskTimedOut
    const retry = this.taskDef(taskId).retry
    const canRetry = this.view.phase === 'running' && retry !== undefined && attempt <= retry.max &&
      !NON_RETRYABLE.has(outcome.error.code)
    if (canRetry) {
      const at = now + backoffDelay(retry, attempt)
      this.set(taskId, { state: 'WAITING', error: outcome.error, nextAttemptAt: at })
      this.transitions.push({
        kind: 'task', executionId: this.id, taskId, to: 'WAITING', reason: 'RETRY_BACKOFF', error: outcome.error,
        nextAttemptAt: at, ...(timedOut ? { auditType: 'TIMEOUT' as const } : {}),
      })
      this.effects.push({ type: 'scheduleRetry', taskId, at })
      return this
    }
    this.set(taskId, { state: 'FAILED', error: outcome.error })
    this.transitions.push({
      kind: 'task', executionId: this.id, taskId, to: 'FAILED', error: outcome.error,
      ...(timedOut ? { auditType: 'TIMEOUT' as const } : {}),
    })
    return this
  }

  onRetryDue(taskId: string): this {
    const task = this.view.tasks[taskId]
    if (this.view.phase !== 'running' || task?.state !== 'WAITING' || this.view.inFlight.includes(taskId)) return this
    this.dispatch(taskId)
    return this
  }

  /** Cancel or timeout: every unfinished task ends now (committed first), then running attempts are aborted. */
  onStop(phase: 'cancelling' | 'timingOut', error: ErrorInfo): this {
    if (this.view.phase !== 'running' && this.view.phase !== 'interrupting') return this
    this.view.phase = phase
    this.view.stopError = error
    const to = phase === 'cancelling' ? 'CANCELLED' : 'FAILED'
    const runs = this.view.workflow.tasks.map((t) => ({ taskId: t.id, state: this.view.tasks[t.id]!.state }))
    // The execution itself ends in finishIfDone, once its running attempts are gone.
    for (const t of terminateUnfinished(this.id, runs, { to, error, ...(phase === 'timingOut' ? { auditType: 'TIMEOUT' as const } : {}) }, { tasksOnly: true })) {
      if (t.kind === 'task') this.set(t.taskId, { state: to, error })
      this.transitions.push(t)
    }
    if (this.view.inFlight.length) this.effects.push({ type: 'abortTasks', reason: phase === 'cancelling' ? 'cancel' : 'timeout' })
    return this
  }

  onInterrupt(): this {
    if (this.view.phase !== 'running') return this
    this.view.phase = 'interrupting'
    if (this.view.inFlight.length) this.effects.push({ type: 'abortTasks', reason: 'interrupt' })
    return this
  }

  private dispatch(taskId: string): void {
    const attempt = this.view.tasks[taskId]!.attempt + 1
    this.set(taskId, { attempt, nextAttemptAt: undefined })
    this.view.inFlight.push(taskId)
    this.effects.push({ type: 'runTask', taskId, attempt })
  }

  /** Skips tasks behind a failure, dispatches runnable ones in declaration order, ends the execution when nothing is left. */
  advance(now: number): this {
    const { tasks, workflow } = this.view
    if (this.view.phase === 'running') {
      // A skip can make a later-declared task skippable: repeat until nothing changes.
      let changed = true
      while (changed) {
        changed = false
        for (const t of workflow.tasks) {
          const task = tasks[t.id]!
          if (task.state !== 'PENDING' || this.view.inFlight.includes(t.id)) continue
          const needs = t.needs.map((n) => tasks[n]!.state)
          if (needs.some((s) => s === 'FAILED' || s === 'SKIPPED' || s === 'CANCELLED')) {
            this.set(t.id, { state: 'SKIPPED' })
            this.transitions.push({ kind: 'task', executionId: this.id, taskId: t.id, to: 'SKIPPED', reason: 'DEPENDENCY_FAILED' })
            changed = true
          } else if (needs.every((s) => s === 'SUCCESS')) {
            this.dispatch(t.id)
          }
        }
      }
      for (const t of workflow.tasks) {
        const task = tasks[t.id]!
        // A retry wait recovered from the store: schedule it (dispatch happens on RetryDue).
        if (task.state === 'WAITING' && task.nextAttemptAt !== undefined && !this.view.inFlight.includes(t.id) &&
          !this.effects.some((e) => e.type === 'scheduleRetry' && e.taskId === t.id)) {
          this.effects.push({ type: 'scheduleRetry', taskId: t.id, at: Math.max(now, task.nextAttemptAt) })
        }
      }
    }
    this.finishIfDone()
    return this
  }

  private finishIfDone(): void {
    const v = this.view
    if (v.phase === 'done' || v.inFlight.length > 0) return
    if (v.phase === 'interrupting') {
      v.phase = 'done'
      this.effects.push({ type: 'finished' })
      return
    }
    const states = v.workflow.tasks.map((t) => v.tasks[t.id]!)
    if (states.some((t) => !isTerminalTask(t.state))) return
    const failed = v.workflow.tasks.find((t) => v.tasks[t.id]!.state === 'FAILED')
    if (v.phase === 'cancelling') {
      this.transitions.push({ kind: 'execution', executionId: this.id, to: 'CANCELLED', error: v.stopError ?? { code: ErrorCode.Cancelled, message: 'cancelled' } })
    } else if (v.phase === 'timingOut') {
      this.transitions.push({ kind: 'execution', executionId: this.id, to: 'FAILED', auditType: 'TIMEOUT', error: v.stopError })
    } else if (failed) {
      const e = v.tasks[failed.id]!.error
      this.transitions.push({
        kind: 'execution', executionId: this.id, to: 'FAILED',
        error: { code: e?.code ?? ErrorCode.PluginError, message: `task ${failed.id} failed: ${e?.message ?? 'unknown error'}`, details: { taskId: failed.id } },
      })
    } else {
      this.transitions.push({ kind: 'execution', executionId: this.id, to: 'SUCCESS' })
    }
    v.phase = 'done'
    this.effects.push({ type: 'finished' })
  }
}
