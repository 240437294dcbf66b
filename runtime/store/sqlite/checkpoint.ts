/**
 * The SQLite checkpoint writer: applies state transitions, each with its audit event, checked against the
 * state tables. A batch commits in one transaction; each transition gets its own result.
 */

import type { Database } from 'bun:sqlite'
import { ErrorCode } from '../../errors.ts'
import {
  auditTypeForExecution, auditTypeForTask, checkExecutionTransition, checkTaskTransition, isTerminalTask,
  type ExecutionState, type TaskRunState,
} from '../../state/states.ts'
import type { ExecutionTransition, TaskTransition, Transition, TransitionResult } from '../checkpoint.ts'
import { toJson } from './json.ts'

const invalid = (what: string, from: string, to: string): TransitionResult => ({
  ok: false,
  error: { code: ErrorCode.InvalidTransition, message: `${what}: ${from} → ${to} is not an allowed transition`, details: { from, to } },
})
const notFound = (what: string): TransitionResult => ({ ok: false, error: { code: ErrorCode.NotFound, message: `${what} not found` } })

export class CheckpointWriter {
  constructor(private readonly db: Database) {}

  /** Applies every transition in one transaction (BEGIN IMMEDIATE) and returns one result per transition. */
  apply(batch: readonly Transition[], now: number): TransitionResult[] {
    const tx = this.db.transaction(() => batch.map((t) => this.applyOne(t, now)))
    return tx.immediate()
  }

  private applyOne(t: Transition, now: number): TransitionResult {
    switch (t.kind) {
      case 'execution': return this.applyExecution(t, now)
      case 'task': return this.applyTask(t, now)
      case 'audit':
        this.audit(now, t.type, t.executionId, t.taskId, t.workflowId, t.data)
        return { ok: true, changed: true }
    }
  }

  private applyExecution(t: ExecutionTransition, now: number): TransitionResult {
    const row = this.db.query<{ state: ExecutionState; workflow_id: string }, [string]>(
      'SELECT state, workflow_id FROM executions WHERE id = ?').get(t.executionId)
    if (!row) return notFound(`execution ${t.executionId}`)
    const check = checkExecutionTransition(row.state, t.to)
    if (check === 'noop') return { ok: true, changed: false }
    if (check === 'invalid') return invalid(`execution ${t.executionId}`, row.state, t.to)
    const terminal = t.to === 'SUCCESS' || t.to === 'FAILED' || t.to === 'CANCELLED'
    this.db.query(`UPDATE executions SET state = ?, reason = ?, error = COALESCE(?, error), updated_at = ?,
        started_at = CASE WHEN ? = 'RUNNING' THEN COALESCE(started_at, ?) ELSE started_at END,
        ended_at = CASE WHEN ? THEN ? ELSE ended_at END WHERE id = ?`)
      .run(t.to, t.reason ?? null, toJson(t.error), now, t.to, now, terminal ? 1 : 0, now, t.executionId)
    this.audit(now, t.auditType ?? auditTypeForExecution(t.to), t.executionId, undefined, row.workflow_id, {
      from: row.state, to: t.to, ...(t.reason ? { reason: t.reason } : {}), ...(t.error ? { error: t.error } : {}), ...t.auditData,
    })
    return { ok: true, changed: true }
  }

  private applyTask(t: TaskTransition, now: number): TransitionResult {
    const row = this.db.query<{ state: TaskRunState; attempt: number }, [string, string]>(
      'SELECT state, attempt FROM task_runs WHERE execution_id = ? AND task_id = ?').get(t.executionId, t.taskId)
    if (!row) return notFound(`task run ${t.executionId}/${t.taskId}`)
    const check = checkTaskTransition(row.state, t.to)
    if (check === 'noop') return { ok: true, changed: false }
    if (check === 'invalid') return invalid(`task ${t.taskId}`, row.state, t.to)
    const attempt = t.to === 'RUNNING' ? (t.attempt ?? row.attempt + 1) : row.attempt
    this.db.query(`UPDATE task_runs SET state = ?, reason = ?, attempt = ?, output = COALESCE(?, output),
        error = CASE WHEN ? = 'RUNNING' THEN NULL ELSE COALESCE(?, error) END, next_attempt_at = ?, updated_at = ?,
        started_at = CASE WHEN ? = 'RUNNING' THEN COALESCE(started_at, ?) ELSE started_at END,
        ended_at = CASE WHEN ? THEN ? ELSE ended_at END WHERE execution_id = ? AND task_id = ?`)
      .run(t.to, t.reason ?? null, attempt, toJson(t.output), t.to, toJson(t.error), t.nextAttemptAt ?? null, now,
        t.to, now, isTerminalTask(t.to) ? 1 : 0, now, t.executionId, t.taskId)
    if (t.to === 'RUNNING') {
      this.db.query(`INSERT OR REPLACE INTO task_attempts (execution_id, task_id, attempt, state, runner, started_at)
          VALUES (?, ?, ?, 'RUNNING', ?, ?)`).run(t.executionId, t.taskId, attempt, t.runner ?? null, now)
    } else if (row.state === 'RUNNING') {
      // The attempt that was running ends with this transition: a retry wait or a give-back means it failed.
      const attemptState = t.to === 'SUCCESS' || t.to === 'CANCELLED' ? t.to : 'FAILED'
      this.db.query(`UPDATE task_attempts SET state = ?, error = ?, ended_at = ?
          WHERE execution_id = ? AND task_id = ? AND attempt = ?`)
        .run(attemptState, toJson(t.error), now, t.executionId, t.taskId, row.attempt)
    }
    this.audit(now, t.auditType ?? auditTypeForTask(t.to), t.executionId, t.taskId, undefined, {
      from: row.state, to: t.to, attempt, ...(t.reason ? { reason: t.reason } : {}),
      ...(t.error ? { error: t.error } : {}), ...t.auditData,
    })
    return { ok: true, changed: true }
  }

  private audit(ts: number, type: string, executionId?: string, taskId?: string, workflowId?: string, data?: unknown): void {
    this.db.query('INSERT INTO audit_events (ts, type, execution_id, task_id, workflow_id, data) VALUES (?, ?, ?, ?, ?, ?)')
      .run(ts, type, executionId ?? null, taskId ?? null, workflowId ?? null, toJson(data))
  }
}
