/** The one message a task actor receives: run this attempt of a plugin call. */

import type { ErrorInfo } from '../../runtime/errors.ts'
import type { ExecutionSnapshot } from '../../runtime/store/types.ts'
import type { TaskFacts } from '../../runtime/expressions/scope.ts'
import type { RunPath } from '../../runtime/workflow/run-path.ts'
import type { PluginCall } from '../../runtime/workflow/tasks/kind.ts'
import type { TaskFiles } from '../../runtime/workflow/tasks/files.ts'

export interface RunAttempt {
  type: 'task.run'
  snapshot: ExecutionSnapshot
  /** The run the attempt belongs to (its key in the store, logs and audit). */
  path: RunPath
  attempt: number
  /** What to run: the plugin action, its inputs and env (templates unresolved), runner, permissions, timeout. */
  call: PluginCall
  /** `tasks.<id>` for the runs the call's templates name (their state, and output once succeeded). */
  tasks: Record<string, TaskFacts>
  /** Why the execution's main tasks failed, for an onFailure or finally task's `{{ execution.error }}`. */
  executionError?: ErrorInfo
  /** A forEach iteration's `item` and `index` (its templates are read with them in scope). */
  iteration?: { index: number; item: unknown }
  /** The task's `outputFiles:` / `inputFiles:` (templates unresolved), and the bytes its execution had stored when the attempt started. */
  files?: TaskFiles & { executionBytes: number }
  /**
   * The attempt's RUNNING, when the execution actor committed it with the step that dispatched it (a task slot was
   * free at once): `held`, its slot is this actor's to give back (endTask); `refused`, no slot is held and the attempt
   * does not start. Absent: the actor asks for a slot itself (beginTask).
   */
  slot?: 'held' | 'refused'
  signal: AbortSignal
}

export type TaskInbox = RunAttempt
