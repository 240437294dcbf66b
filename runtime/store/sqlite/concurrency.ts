/** SQL of the per-workflow concurrency rule: a workflow's active executions counted, cancel requests (migration 9). */

import type { Database } from 'bun:sqlite'
import type { ErrorInfo } from '../../errors.ts'
import { QUEUED_REASON, type SlotCounts } from '../../state/concurrency.ts'
import { fromJson } from './json.ts'

/** A workflow's non-terminal executions: the partial index `executions_active_by_workflow`, oldest first. */
const ACTIVE = "workflow_id = ? AND state IN ('PENDING', 'RUNNING', 'WAITING')"
const WAITING = `state = 'WAITING' AND reason IS '${QUEUED_REASON}'`

export class ConcurrencyRepo {
  constructor(private readonly db: Database) {}

  /** What the rule needs to know, counted in SQL in one pass over the workflow's active executions (by the partial index). */
  counts(workflowId: string, except?: string): SlotCounts {
    const r = this.db.query<{ holding: number | null; stopping: number | null; queued: number | null }, [string, string]>(
      `SELECT SUM(CASE WHEN ${WAITING} THEN 0 ELSE 1 END) AS holding,
          SUM(CASE WHEN NOT (${WAITING}) AND cancel_requested IS NOT NULL THEN 1 ELSE 0 END) AS stopping,
          SUM(CASE WHEN ${WAITING} THEN 1 ELSE 0 END) AS queued
        FROM executions WHERE ${ACTIVE} AND id IS NOT ?`).get(workflowId, except ?? '')
    return { holding: r?.holding ?? 0, stopping: r?.stopping ?? 0, queued: r?.queued ?? 0 }
  }

  /** The `n` oldest holders not asked to stop yet. */
  oldestStaying(workflowId: string, n: number, except: string): string[] {
    if (n <= 0) return []
    return this.db.query<{ id: string }, [string, string, number]>(`SELECT id FROM executions WHERE ${ACTIVE} AND id IS NOT ?
        AND NOT (${WAITING}) AND cancel_requested IS NULL ORDER BY created_at, id LIMIT ?`).all(workflowId, except, n).map((r) => r.id)
  }

  /**
   * The `n` oldest executions waiting for a slot (not `except`), oldest first: by when their creation committed, then
   * id. The engines ask in this order too (ExecutionRepository.waitingOrder: slot-watcher.ts), so the ones that may
   * go are the ones asked about whatever order two nodes' creations committed in.
   */
  oldestWaiting(workflowId: string, n: number, except?: string): string[] {
    if (n <= 0) return []
    return this.db.query<{ id: string }, [string, string, number]>(`SELECT id FROM executions WHERE ${ACTIVE} AND id IS NOT ? AND ${WAITING}
        ORDER BY created_at, id LIMIT ?`).all(workflowId, except ?? '', n).map((r) => r.id)
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
