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

/**
 * Why a task run (or an execution) is WAITING: every transition into WAITING names one, and the state
 * machine refuses one that does not. A new reason comes with its line in WAIT_ON_RECOVERY.
 */
export const WaitReason = {
  /** A failed attempt waits for its retry (`nextAttemptAt`). */
  RetryBackoff: 'RETRY_BACKOFF',
  /** An attempt waits for one of the engine's task slots (`execution.maxConcurrentTasks`). */
  ConcurrencyLimit: 'CONCURRENCY_LIMIT',
  /**
   * An execution (not a task run) waits for a slot of its workflow's `concurrency: { behavior: queue }`; the queue
   * is the store's (creation order), so it survives restarts and is shared by every engine (state/concurrency.ts).
   */
  WorkflowConcurrency: 'WORKFLOW_CONCURRENCY',
  /** A durable wait (the `wait` kind) until its wake-up time (`nextAttemptAt`); no process, no slot. */
  Timer: 'TIMER',
  /** An approval (the `approval` kind) waits for a person's decision, until its deadline (`nextAttemptAt`) if it has one. */
  Approval: 'APPROVAL',
  /** A subflow (the `subflow` kind) waits for its child execution to end (the child's id is on the run); no process, no slot. */
  Subflow: 'SUBFLOW',
} as const
export type WaitReason = (typeof WaitReason)[keyof typeof WaitReason]

/**
 * What crash recovery does with a run it finds WAITING, per reason: `resume` keeps the wait (its execution
 * re-arms it from the stored record, e.g. the retry at `nextAttemptAt`); `requeue` gives the run back
 * (PENDING), because what it waited for lived in the engine that died (a place in the slot queue).
 */
export const WAIT_ON_RECOVERY: Readonly<Record<WaitReason, 'resume' | 'requeue'>> = {
  RETRY_BACKOFF: 'resume',
  CONCURRENCY_LIMIT: 'requeue',
  WORKFLOW_CONCURRENCY: 'resume',
  // What these wait for is in the store (the wake-up time, the deadline) or outside the engine (a person).
  TIMER: 'resume',
  APPROVAL: 'resume',
  // The child execution is in the store, recovered like any other; its end wakes the parent.
  SUBFLOW: 'resume',
}

/**
 * Why a task run was SKIPPED. A failure upstream skips what depends on it (`DEPENDENCY_FAILED`); a task whose
 * `if:` is false is `CONDITION_FALSE`, and a dependent of such a task is `DEPENDENCY_SKIPPED` unless it has an
 * `if:` of its own, which then decides (docs/workflows.md#conditions-if).
 */
export const SkipReason = {
  DependencyFailed: 'DEPENDENCY_FAILED',
  ConditionFalse: 'CONDITION_FALSE',
  DependencySkipped: 'DEPENDENCY_SKIPPED',
  /** A forEach iteration not started because an earlier one failed (fail-fast; not with `allowFailure`). */
  FailFast: 'FAIL_FAST',
} as const
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason]

/** Whether a SKIPPED run was skipped by a condition (its own or upstream), not by a failure: its dependents may still run. */
export const isConditionSkip = (state: string, reason: string | undefined): boolean =>
  state === 'SKIPPED' && (reason === SkipReason.ConditionFalse || reason === SkipReason.DependencySkipped)

/**
 * The waits that hold no attempt: the run waits for something outside it (a time, a decision), and what ends
 * the wait is its kind's (TaskStep.wake, TaskStep.decide). The others wait to start an attempt.
 */
const OUTSIDE_WAITS: ReadonlySet<string> = new Set([WaitReason.Timer, WaitReason.Approval, WaitReason.Subflow])
export const isOutsideWait = (r: unknown): boolean => typeof r === 'string' && OUTSIDE_WAITS.has(r)

const WAIT_REASONS: ReadonlySet<string> = new Set(Object.values(WaitReason))
export const isWaitReason = (r: unknown): r is WaitReason => typeof r === 'string' && WAIT_REASONS.has(r)

export const AuditType = {
  Created: 'CREATED', Started: 'STARTED', StateChange: 'STATE_CHANGE', Completed: 'COMPLETED',
  Failed: 'FAILED', Cancelled: 'CANCELLED', Timeout: 'TIMEOUT', PermissionDenied: 'PERMISSION_DENIED',
  Recovered: 'RECOVERED', WorkflowApplied: 'WORKFLOW_APPLIED', WorkflowDeleted: 'WORKFLOW_DELETED',
  SandboxWeakened: 'SANDBOX_WEAKENED', LogTruncated: 'LOG_TRUNCATED',
  SecretSet: 'SECRET_SET', SecretRevealed: 'SECRET_REVEALED', SecretDeleted: 'SECRET_DELETED',
  WebhookKeyRotated: 'WEBHOOK_KEY_ROTATED',
  /** A newer execution asked this one to stop (its workflow's `concurrency: { behavior: cancel-oldest }`). */
  CancelRequested: 'CANCEL_REQUESTED',
  /**
   * An engine took this execution over (`from` its owner, whose lease `fromLeaseUntil` had expired, or null: its
   * lease row was gone — released or proved dead), `to` the new owner: the record that no execution ran on two.
   */
  Claimed: 'CLAIMED',
  /**
   * An engine with free slots took this execution, PENDING and not started, from the live engine that created it and
   * had queued it (`from`, `to`: docs/scale-out.md). Nothing of it had run, so no lease had to expire.
   */
  ClaimedQueued: 'CLAIMED_QUEUED',
  Restarted: 'RESTARTED', Approved: 'APPROVED', Rejected: 'REJECTED',
  /**
   * An engine that does not hold this execution asked its holder to take a decision on an awaiting run (`from`,
   * `holder`, `taskId`, `verdict`, `by`: docs/scale-out.md); APPROVED or REJECTED follows when the holder takes it.
   */
  DecisionRequested: 'DECISION_REQUESTED',
  /** Old executions deleted (`workflow execution purge`, `execution.retention`): the cutoff and how many went. */
  ExecutionsPurged: 'EXECUTIONS_PURGED',
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

/**
 * The one way out of a terminal state: a restart (the `restart` transition, runtime/store/checkpoint.ts) takes
 * an execution that ended FAILED or CANCELLED back to PENDING, and each of its runs that did not succeed back to
 * PENDING too (SUCCESS runs keep their outputs). Ordinary transitions never leave a terminal state: these
 * tables are read only by checkRestart, and the `restart` transition is applied by every backend on its own.
 */
const RESTARTABLE_EXECUTIONS: readonly ExecutionState[] = ['FAILED', 'CANCELLED']
const RESTARTED_TASK_RUNS: readonly TaskRunState[] = ['FAILED', 'CANCELLED', 'SKIPPED', 'PENDING', 'WAITING', 'RUNNING']

/** Whether an execution in `state` may be restarted. */
export const isRestartable = (state: ExecutionState): boolean => RESTARTABLE_EXECUTIONS.includes(state)
/** Whether a restart gives a run in `state` back (PENDING, a new attempt to come): every state but SUCCESS. */
export const isRestartedTask = (state: TaskRunState): boolean => RESTARTED_TASK_RUNS.includes(state)

export const isTerminalExecution = (s: ExecutionState): boolean => EXECUTION_TRANSITIONS[s].length === 0
export const isTerminalTask = (s: TaskRunState): boolean => TASK_RUN_TRANSITIONS[s].length === 0

/** `noop` when already in that state (re-applying is harmless), `invalid` when the table forbids it. */
export type TransitionCheck = 'ok' | 'noop' | 'invalid'

/** The reasons on both sides of a transition (the stored one, and the one asked for). */
export interface Reasons {
  from?: string | undefined
  to?: string | undefined
}

/** Shared rules: WAITING needs a known reason; a new wait reason is a change, the same one a no-op. */
function check(table: Readonly<Record<string, readonly string[]>>, from: string, to: string, reasons: Reasons): TransitionCheck {
  if (to === 'WAITING' && !isWaitReason(reasons.to)) return 'invalid'
  if (from === to) return to === 'WAITING' && reasons.from !== reasons.to ? 'ok' : 'noop'
  return table[from]!.includes(to) ? 'ok' : 'invalid'
}

export function checkExecutionTransition(from: ExecutionState, to: ExecutionState, reasons: Reasons = {}): TransitionCheck {
  return check(EXECUTION_TRANSITIONS, from, to, reasons)
}

export function checkTaskTransition(from: TaskRunState, to: TaskRunState, reasons: Reasons = {}): TransitionCheck {
  return check(TASK_RUN_TRANSITIONS, from, to, reasons)
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
