/** Messages to an execution actor, and the effects its pure logic asks for. Plain data only. */

import type { ErrorInfo } from '../../runtime/errors.ts'
import type { TaskRunState } from '../../runtime/state/states.ts'
import type { Transition } from '../../runtime/store/checkpoint.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'

export type TaskOutcome = { ok: true; output: unknown } | { ok: false; error: ErrorInfo }

export interface StartExecution { type: 'execution.start' }
export interface CancelExecution { type: 'execution.cancel'; reason: string }
export interface ExecutionTimedOut { type: 'execution.timeout' }
/** Stop without a terminal state: the engine is shutting down and the execution resumes on restart. */
export interface InterruptExecution { type: 'execution.interrupt' }
export interface TaskFinished { type: 'task.finished'; taskId: string; attempt: number; outcome: TaskOutcome }
export interface RetryDue { type: 'task.retryDue'; taskId: string }

export type ExecutionInbox = StartExecution | CancelExecution | ExecutionTimedOut | InterruptExecution | TaskFinished | RetryDue

export type Effect =
  | { type: 'runTask'; taskId: string; attempt: number }
  | { type: 'scheduleRetry'; taskId: string; at: number }
  | { type: 'abortTasks'; reason: 'cancel' | 'timeout' | 'interrupt' }
  | { type: 'finished' }

export interface TaskView {
  state: TaskRunState
  /** The last attempt started (0 before the first). */
  attempt: number
  output?: unknown
  error?: ErrorInfo
  nextAttemptAt?: number
}

export type Phase = 'running' | 'cancelling' | 'timingOut' | 'interrupting' | 'done'

/** What the execution actor knows; rebuilt from the store on resume. */
export interface ExecutionView {
  executionId: string
  workflow: Workflow
  phase: Phase
  tasks: Record<string, TaskView>
  /** Tasks with an attempt in flight (a task actor exists). */
  inFlight: string[]
  /** Why the execution is being stopped (cancel reason or timeout). */
  stopError?: ErrorInfo
}

export interface Step {
  view: ExecutionView
  transitions: Transition[]
  effects: Effect[]
}
