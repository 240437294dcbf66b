/**
 * Ending an execution before its tasks are done — a cancel, a timeout, a crash, a worker given up on — is one
 * rule: every task run that is not terminal yet ends now, in declaration order, then the execution does.
 */

import type { ErrorInfo } from '../errors.ts'
import type { ExecutionTransition, TaskTransition } from '../store/checkpoint.ts'
import { isTerminalTask, type AuditType, type TaskRunState } from './states.ts'

/** How the unfinished runs end. */
export interface Termination {
  to: 'CANCELLED' | 'FAILED'
  error: ErrorInfo
  /** Instead of the audit type the target state implies (TIMEOUT). */
  auditType?: AuditType
}

/**
 * The transitions that end `executionId` now: one per task run not yet terminal, then the execution's own — unless
 * `tasksOnly` (the execution actor ends the execution itself once its running attempts are gone).
 */
export function terminateUnfinished(
  executionId: string,
  runs: Iterable<{ taskId: string; state: TaskRunState }>,
  end: Termination,
  opts: { tasksOnly?: boolean } = {},
): (TaskTransition | ExecutionTransition)[] {
  const audit = end.auditType ? { auditType: end.auditType } : {}
  const out: (TaskTransition | ExecutionTransition)[] = []
  for (const r of runs) {
    if (!isTerminalTask(r.state)) out.push({ kind: 'task', executionId, taskId: r.taskId, to: end.to, error: end.error, ...audit })
  }
  if (!opts.tasksOnly) out.push({ kind: 'execution', executionId, to: end.to, error: end.error, ...audit })
  return out
}
