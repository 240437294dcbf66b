/** SQL of the per-workflow concurrency rule on PostgreSQL (see sqlite/concurrency.ts). */

import type { ErrorInfo } from '../../errors.ts'
import { QUEUED_REASON, type SlotCounts } from '../../state/concurrency.ts'
import { fromJson } from '../sqlite/json.ts'
import type { Q } from './sql.ts'

const ACTIVE = "workflow_id = ? AND state IN ('PENDING', 'RUNNING', 'WAITING')"
const WAITING = `state = 'WAITING' AND reason IS NOT DISTINCT FROM '${QUEUED_REASON}'`

export class ConcurrencyRepo {
  constructor(private readonly q: Q) {}

  async counts(workflowId: string, except?: string): Promise<SlotCounts> {
    const r = await this.q.get<{ holding: number | null; stopping: number | null; queued: number | null }>(
      `SELECT SUM(CASE WHEN ${WAITING} THEN 0 ELSE 1 END)::int AS holding,
          SUM(CASE WHEN NOT (${WAITING}) AND cancel_requested IS NOT NULL THEN 1 ELSE 0 END)::int AS stopping,
          SUM(CASE WHEN ${WAITING} THEN 1 ELSE 0 END)::int AS queued
        FROM executions WHERE ${ACTIVE} AND id IS DISTINCT FROM ?`, [workflowId, except ?? ''])
    return { holding: r?.holding ?? 0, stopping: r?.stopping ?? 0, queued: r?.queued ?? 0 }
  }

  async oldestStaying(workflowId: string, n: number, except: string): Promise<string[]> {
    if (n <= 0) return []
    return (await this.q.all<{ id: string }>(`SELECT id FROM executions WHERE ${ACTIVE} AND id IS DISTINCT FROM ?
        AND NOT (${WAITING}) AND cancel_requested IS NULL ORDER BY created_at, id LIMIT ?`, [workflowId, except, n])).map((r) => r.id)
  }

  /** Oldest first, as sqlite/concurrency.ts. */
  async oldestWaiting(workflowId: string, n: number, except?: string): Promise<string[]> {
    if (n <= 0) return []
    return (await this.q.all<{ id: string }>(`SELECT id FROM executions WHERE ${ACTIVE} AND id IS DISTINCT FROM ? AND ${WAITING}
        ORDER BY created_at, id LIMIT ?`, [workflowId, except ?? '', n])).map((r) => r.id)
  }

  /** Read from the snapshot in JS, not with `::jsonb` (which refuses a `\u0000` a YAML "\0" can put in a model). */
  async limitOf(executionId: string): Promise<number | undefined> {
    const r = await this.q.get<{ model: string }>('SELECT model FROM executions WHERE id = ?', [executionId])
    return r ? (JSON.parse(r.model) as { concurrency?: { limit?: number } }).concurrency?.limit : undefined
  }

  async queue(executionId: string, now: number): Promise<void> {
    await this.q.run("UPDATE executions SET state = 'WAITING', reason = ?, updated_at = ? WHERE id = ?", [QUEUED_REASON, now, executionId])
  }

  async requestCancel(executionId: string, error: ErrorInfo): Promise<void> {
    await this.q.run('UPDATE executions SET cancel_requested = COALESCE(cancel_requested, ?) WHERE id = ?', [JSON.stringify(error), executionId])
  }

  async cancelRequests(owner: string): Promise<{ id: string; error: ErrorInfo }[]> {
    return (await this.q.all<{ id: string; cancel_requested: string }>(`SELECT id, cancel_requested FROM executions
          WHERE owner = ? AND cancel_requested IS NOT NULL AND state IN ('PENDING', 'RUNNING', 'WAITING') ORDER BY created_at, id`, [owner]))
      .map((r) => ({ id: r.id, error: fromJson<ErrorInfo>(r.cancel_requested)! }))
  }
}
