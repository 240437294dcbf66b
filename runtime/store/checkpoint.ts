/**
 * What a checkpoint commits: state transitions, each checked against the state tables and written with its
 * audit event, and the result each one gets. Plain data; every backend applies them (see store.ts).
 */

import type { ErrorInfo } from '../errors.ts'
import type { AuditType, ExecutionState, TaskRunState } from '../state/states.ts'

export interface ExecutionTransition {
  kind: 'execution'
  executionId: string
  to: ExecutionState
  reason?: string
  error?: ErrorInfo
  /** Overrides the audit type derived from the target state (e.g. TIMEOUT). */
  auditType?: AuditType
  auditData?: Record<string, unknown>
}

export interface TaskTransition {
  kind: 'task'
  executionId: string
  taskId: string
  to: TaskRunState
  /** The attempt this transition concerns (required when entering RUNNING). */
  attempt?: number
  reason?: string
  output?: unknown
  error?: ErrorInfo
  nextAttemptAt?: number
  runner?: string
  auditType?: AuditType
  auditData?: Record<string, unknown>
}

export interface AuditOnly {
  kind: 'audit'
  type: AuditType
  executionId?: string
  taskId?: string
  workflowId?: string
  data?: Record<string, unknown>
}

export type Transition = ExecutionTransition | TaskTransition | AuditOnly

export type TransitionResult = { ok: true; changed: boolean } | { ok: false; error: ErrorInfo }
