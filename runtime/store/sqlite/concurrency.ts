/** SQL of the per-workflow concurrency rule: a workflow's active executions, cancel requests (migration 9). */

import type { Database } from 'bun:sqlite'
import type { ErrorInfo } from '../../errors.ts'
import { QUEUED_REASON, type ActiveOfWorkflow } from '../../state/concurrency.ts'
import { fromJson } from './json.ts'

export class ConcurrencyRepo {
  constructor(private readonly db: Database) {}

  /** The workflow's executions that are not terminal, oldest first (the partial index `executions_active_by_workflow`). */
  activeOf(workflowId: string): ActiveOfWorkflow[] {
    return this.db
      .query<{ id: string; state: string; reason: string | null; cancel_requested: string | null }, [string]>(
        `SELECT id, state, reason, cancel_requested FROM executions
          WHERE workflow_id = ? AND state IN ('PENDING', 'RUNNING', 'WAITING') ORDER BY created_at, id`)
      .all(workflowId)
      .map((r) => ({ id: r.id, holding: !(r.state === 'WAITING' && r.reason === QUEUED_REASON), cancelRequested: r.cancel_requested !== null }))
  }

  /** The limit an execution was created under (from its workflow snapshot), or undefined. */
  limitOf(executionId: string): number | undefined {
    const r = this.db.query<{ limit: number | null }, [string]>(
      "SELECT json_extract(model, '$.concurrency.limit') AS \"limit\" FROM executions WHERE id = ?").get(executionId)
    return r?.limit ?? undefined
  }

  /** Starts a new execution in the queue: WAITING for a slot (it was inserted PENDING in this transaction). */
  queue(executionId: string, now: number): void {
    this.db.query("UPDATE executions SET state = 'WAITING', reason = ?, updated_at = ? WHERE id = ?").run(QUEUED_REASON, now, executionId)
  }

  /** Asks the engine that holds `executionId` to cancel it (first request wins). */
  requestCancel(executionId: string, error: ErrorInfo): void {
    this.db.query('UPDATE executions SET cancel_requested = COALESCE(cancel_requested, ?) WHERE id = ?').run(JSON.stringify(error), executionId)
  }

  /** Non-terminal executions `owner` holds that were asked to stop, oldest first. */
  cancelRequests(owner: string): { id: string; error: ErrorInfo }[] {
    return this.db
      .query<{ id: string; cancel_requested: string }, [string]>(`SELECT id, cancel_requested FROM executions
          WHERE owner = ? AND cancel_requested IS NOT NULL AND state IN ('PENDING', 'RUNNING', 'WAITING') ORDER BY created_at, id`)
      .all(owner)
      .map((r) => ({ id: r.id, error: fromJson<ErrorInfo>(r.cancel_requested)! }))
  }
}
