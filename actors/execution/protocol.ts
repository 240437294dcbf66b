/** Messages to an execution actor, and the effects its pure logic asks for. Plain data only. */

import type { ErrorInfo } from '../../runtime/errors.ts'
import type { TaskRunState } from '../../runtime/state/states.ts'
import type { TaskTransition, Transition } from '../../runtime/store/checkpoint.ts'
import type { ChildEnd, Decision, StoredFile } from '../../runtime/store/types.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import type { RunPath } from '../../runtime/workflow/run-path.ts'
import type { PluginCall } from '../../runtime/workflow/tasks/kind.ts'
import type { TaskFiles } from '../../runtime/workflow/tasks/files.ts'
import type { Plan } from './view.ts'

/** An attempt's end; a success may bring the files it stored (`outputFiles:`), recorded with its SUCCESS. */
export type TaskOutcome = { ok: true; output: unknown; files?: StoredFile[] } | { ok: false; error: ErrorInfo }

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

/** The engine answered a `startChild` effect: the child was created with the run's WAITING, or `error` says why not (nothing was committed). */
export interface ChildStarted { type: 'task.childStarted'; path: RunPath; attempt: number; error?: ErrorInfo }
/** The child execution the run at `path` waits for has ended. */
export interface ChildEnded { type: 'task.childEnded'; path: RunPath; end: ChildEnd }

/** What the engine needs to start a child execution for a run (actors/supervisor/subflows.ts). */
export interface ChildRequest {
  parentId: string
  /** The parent's run path. */
  taskId: RunPath
  /** Derived from the parent, the path and the attempt (runtime/ids.ts childExecutionId). */
  childId: string
  workflowId: string
  /** Rendered; checked against the child's declared inputs by the engine. */
  inputs: Record<string, unknown>
  /** The run's WAITING (SUBFLOW), committed in the same request as the child's creation. */
  waiting: TaskTransition
}

/** A person's decision on an awaiting run (stored when it travels between engines: runtime/store/types.ts). */
export type { Decision }

export type ExecutionInbox = StartExecution | CancelExecution | ExecutionTimedOut | InterruptExecution | TaskFinished | RetryDue |
  WakeDue | DecideTask | ChildStarted | ChildEnded

export type Effect =
  /**
   * Run one plugin call out of process (a task actor), as attempt `attempt` of the run at `path`; a forEach
   * iteration's call renders its templates with its `item` and `index`.
   */
  | { type: 'runPlugin'; path: RunPath; attempt: number; call: PluginCall; iteration?: Iteration; files?: TaskFiles }
  | { type: 'scheduleRetry'; path: RunPath; at: number }
  /** Tell `task.wake` at `at` (an awaiting run's wake-up time). */
  | { type: 'scheduleWake'; path: RunPath; at: number }
  /** Ask the engine to create a child execution with the run's WAITING (answered by `task.childStarted`). */
  | { type: 'startChild'; path: RunPath; attempt: number; request: ChildRequest }
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
  /** A subflow run's child execution. */
  child?: string
  /** The files its success stored (`outputFiles:`). */
  files?: StoredFile[]
  /** How that child ended, when the engine knew it as it handed the execution over (a resumed parent). */
  childEnd?: ChildEnd
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
