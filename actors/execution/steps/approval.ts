/** The approval kind's step: await a decision (WAITING, APPROVAL) until the task's `timeout`, if it has one. */
import { AppError, ErrorCode } from '../../../runtime/errors.ts'
import { WaitReason } from '../../../runtime/state/states.ts'
import { approvalInputs, type ApprovalSpec } from '../../../runtime/workflow/tasks/approval.ts'
import type { TaskStep } from './step.ts'

export const approvalStep: TaskStep<ApprovalSpec> = {
  start: (task, run) => ({
    type: 'await', reason: WaitReason.Approval,
    ...(task.timeoutMs !== undefined ? { until: run.now + task.timeoutMs } : {}),
  }),
  wake: (task) => ({
    ok: false,
    error: { code: ErrorCode.ApprovalTimedOut, message: `no decision on approval ${task.id} within its timeout` },
  }),
  decide: (task, decision) => {
    if (decision.verdict === 'approve') return { ok: true, output: approvalInputs(task, decision.inputs) }
    if (decision.reason.trim() === '') throw new AppError(ErrorCode.InvalidInput, 'a rejection needs a reason', { path: 'reason' })
    return {
      ok: false,
      error: { code: ErrorCode.ApprovalRejected, message: `rejected by ${decision.by}: ${decision.reason}`, details: { by: decision.by, reason: decision.reason } },
    }
  },
}
