/**
 * Crash recovery (invariant 3), as a pure function of a stored snapshot: a task interrupted while
 * RUNNING is given back (PENDING) if attempts remain, else FAILED with INTERRUPTED; SUCCESS never reruns.
 */

import { ErrorCode } from '../../runtime/errors.ts'
import { isWaitReason, WAIT_ON_RECOVERY } from '../../runtime/state/states.ts'
import type { Transition } from '../../runtime/store/checkpoint.ts'
import type { ExecutionSnapshot } from '../../runtime/store/types.ts'
import { taskAtPath } from '../../runtime/workflow/run-path.ts'

export function recoveryTransitions(snap: ExecutionSnapshot, why = 'the engine stopped while it ran'): Transition[] {
  const out: Transition[] = []
  const executionId = snap.execution.id
  const tasks = new Map(snap.workflow.tasks.map((t) => [t.id, t]))
  for (const run of snap.taskRuns) {
    const task = taskAtPath(tasks, run.taskId)
    const allowed = (task?.retry?.max ?? 0) + 1
    const error = { code: ErrorCode.Interrupted, message: `attempt ${run.attempt} was interrupted: ${why}` }
    if (run.state === 'RUNNING') {
      out.push(run.attempt < allowed
        ? { kind: 'task', executionId, taskId: run.taskId, to: 'PENDING', reason: 'INTERRUPTED', error, auditType: 'RECOVERED' }
        : { kind: 'task', executionId, taskId: run.taskId, to: 'FAILED', reason: 'INTERRUPTED', error })
    } else if (run.state === 'WAITING' && isWaitReason(run.reason) && WAIT_ON_RECOVERY[run.reason] === 'requeue') {
      out.push({ kind: 'task', executionId, taskId: run.taskId, to: 'PENDING', reason: 'RECOVERED', auditType: 'RECOVERED' })
    }
  }
  return out
}
