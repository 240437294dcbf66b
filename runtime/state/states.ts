/** Execution and task-run states, their allowed transitions (one table each) and the audit event types. */

export const ExecutionState = {
  Pending: 'PENDING', Running: 'RUNNING', Waiting: 'WAITING',
  Success: 'SUCCESS', Failed: 'FAILED', Cancelled: 'CANCELLED',
} as const
export type ExecutionState = (typeof ExecutionState)[keyof typeof ExecutionState]

export const TaskRunState = { ...ExecutionState, Skipped: 'SKIPPED' } as const
export type TaskRunState = (typeof TaskRunState)[keyof typeof TaskRunState]

export const EXECUTION_STATES: readonly ExecutionState[] = Object.values(ExecutionState)
export const TASK_RUN_STATES: readonly TaskRunState[] = Object.values(TaskRunState)

/** Why something waits. */
export const WaitReason = {
  RetryBackoff: 'RETRY_BACKOFF',
  ConcurrencyLimit: 'CONCURRENCY_LIMIT',
} as const
export type WaitReason = (typeof WaitReason)[keyof typeof WaitReason]

export const AuditType = {
  Created: 'CREATED', Started: 'STARTED', StateChange: 'STATE_CHANGE', Completed: 'COMPLETED',
  Failed: 'FAILED', Cancelled: 'CANCELLED', Timeout: 'TIMEOUT', PermissionDenied: 'PERMISSION_DENIED',
  Recovered: 'RECOVERED', WorkflowApplied: 'WORKFLOW_APPLIED', WorkflowDeleted: 'WORKFLOW_DELETED',
  SandboxWeakened: 'SANDBOX_WEAKENED', LogTruncated: 'LOG_TRUNCATED',
  SecretSet: 'SECRET_SET', SecretRevealed: 'SECRET_REVEALED', SecretDeleted: 'SECRET_DELETED',
  WebhookKeyRotated: 'WEBHOOK_KEY_ROTATED',
} as const
export type AuditType = (typeof AuditType)[keyof typeof AuditType]

const EXECUTION_TRANSITIONS: Record<ExecutionState, readonly ExecutionState[]> = {
  PENDING: ['RUNNING', 'FAILED', 'CANCELLED'],
  RUNNING: ['WAITING', 'SUCCESS', 'FAILED', 'CANCELLED'],
  WAITING: ['RUNNING', 'FAILED', 'CANCELLED'],
  SUCCESS: [], FAILED: [], CANCELLED: [],
}

const TASK_RUN_TRANSITIONS: Record<TaskRunState, readonly TaskRunState[]> = {
  PENDING: ['WAITING', 'RUNNING', 'SKIPPED', 'CANCELLED', 'FAILED'],
  WAITING: ['RUNNING', 'PENDING', 'SKIPPED', 'CANCELLED', 'FAILED'],
  // RUNNING → PENDING happens only in crash recovery: an interrupted attempt is given back.
  RUNNING: ['WAITING', 'SUCCESS', 'FAILED', 'CANCELLED', 'PENDING'],
  SUCCESS: [], FAILED: [], CANCELLED: [], SKIPPED: [],
}

export const isTerminalExecution = (s: ExecutionState): boolean => EXECUTION_TRANSITIONS[s].length === 0
export const isTerminalTask = (s: TaskRunState): boolean => TASK_RUN_TRANSITIONS[s].length === 0

/** `noop` when already in that state (re-applying is harmless), `invalid` when the table forbids it. */
export type TransitionCheck = 'ok' | 'noop' | 'invalid'

export function checkExecutionTransition(from: ExecutionState, to: ExecutionState): TransitionCheck {
  if (from === to) return 'noop'
  return EXECUTION_TRANSITIONS[from].includes(to) ? 'ok' : 'invalid'
}

export function checkTaskTransition(from: TaskRunState, to: TaskRunState): TransitionCheck {
  if (from === to) return 'noop'
  return TASK_RUN_TRANSITIONS[from].includes(to) ? 'ok' : 'invalid'
}

/** The audit event that records an execution entering `to`. */
export function auditTypeForExecution(to: ExecutionState): AuditType {
  switch (to) {
    case 'RUNNING': return 'STARTED'
    case 'SUCCESS': return 'COMPLETED'
    case 'FAILED': return 'FAILED'
    case 'CANCELLED': return 'CANCELLED'
    default: return 'STATE_CHANGE'
  }
}

export function auditTypeForTask(to: TaskRunState): AuditType {
  return to === 'SKIPPED' || to === 'PENDING' || to === 'WAITING' ? 'STATE_CHANGE' : auditTypeForExecution(to)
}
