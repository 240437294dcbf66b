/** Messages to an execution actor, and the effects its pure logic asks for. Plain data only. */

import type { ErrorInfo } from '../../runtime/errors.ts'
import type { TaskRunState } from '../../runtime/state/states.ts'
import type { Transition } from '../../runtime/store/checkpoint.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import type { RunPath } from '../../runtime/workflow/run-path.ts'
import type { PluginCall } from '../../runtime/workflow/tasks/kind.ts'
import type { Plan } from './view.ts'

export type TaskOutcome = { ok: true; output: unknown } | { ok: false; error: ErrorInfo }

export interface StartExecution { type: 'execution.start' }
export interface CancelExecution { type: 'execution.cancel'; reason: string }
export interface ExecutionTimedOut { type: 'execution.timeout' }
/** Stop without a terminal state: the engine is shutting down and the execution resumes on restart. */
export interface InterruptExecution { type: 'execution.interrupt' }
/** An attempt of the run at `path` ended (a plugin call's outcome). */
export interface TaskFinished { type: 'task.finished'; path: RunPath; attempt: number; outcome: TaskOutcome }
export interface RetryDue { type: 'task.retryDue'; path: RunPath }
/** The wake-up time of the run awaiting at `path` came (steps/step.ts, `await`). */
export interface WakeDue { type: 'task.wake'; path: RunPath }
/** A decision for the run awaiting at `path` (an approval): the actor answers with a refusal, or nothing once committed. */
export interface DecideTask { type: 'task.decide'; path: RunPath; decision: Decision }

/**
 * A person's decision on an awaiting run. `by` names who decided (the API key's name, or `local` for the
 * embedded CLI), never a key.
 */
export type Decision =
  | { verdict: 'approve'; inputs: Record<string, unknown>; by: string }
  | { verdict: 'reject'; reason: string; by: string }

export type ExecutionInbox = StartExecution | CancelExecution | ExecutionTimedOut | InterruptExecution | TaskFinished | RetryDue |
  WakeDue | DecideTask

export type Effect =
  /**
   * Run one plugin call out of process (a task actor), as attempt `attempt` of the run at `path`; a forEach
   * iteration's call renders its templates with its `item` and `index`.
   */
  | { type: 'runPlugin'; path: RunPath; attempt: number; call: PluginCall; iteration?: Iteration }
  | { type: 'scheduleRetry'; path: RunPath; at: number }
  /** Tell `task.wake` at `at` (an awaiting run's wake-up time). */
  | { type: 'scheduleWake'; path: RunPath; at: number }
  | { type: 'abortTasks'; reason: 'cancel' | 'timeout' | 'interrupt' }
  | { type: 'finished' }

/** A forEach iteration's place in its list: what `item` and `index` are in its templates and its `if:`. */
export interface Iteration {
  index: number
  item: unknown
}

export interface TaskView {
  state: TaskRunState
  /** The last attempt started (0 before the first). */
  attempt: number
  /** Why it is WAITING (or was SKIPPED…), as stored. */
  reason?: string
  output?: unknown
  error?: ErrorInfo
  nextAttemptAt?: number
  /** The attempt a restart started from (attempts after it count against `retry.max`); 0 before any restart. */
  attemptBase?: number
}

export type Phase = 'running' | 'cancelling' | 'timingOut' | 'interrupting' | 'done'

/**
 * What the execution actor knows; rebuilt from the store on resume (createView). The logic updates it in
 * place and hands it back in its Step: a view is used by one actor, one message after another, never shared.
 */
export interface ExecutionView {
  executionId: string
  workflow: Workflow
  /** The execution's inputs (for templates). */
  inputs: Readonly<Record<string, unknown>>
  phase: Phase
  /** Each run's state, by path. */
  tasks: Record<RunPath, TaskView>
  /** Runs with an attempt in flight (a task actor exists). */
  inFlight: Set<RunPath>
  /** Why the execution is being stopped (cancel reason or timeout). */
  stopError?: ErrorInfo
  /** The indexes that make each step cost what it changes, not the size of the workflow. */
  plan: Plan
  /** Items a forEach list may hold (config `limits.maxForEachItems`). */
  maxForEachItems: number
}

export interface Step {
  view: ExecutionView
  transitions: Transition[]
  effects: Effect[]
  /** Why a `task.decide` was refused (nothing changed); absent when it was taken. */
  refusal?: ErrorInfo
}
