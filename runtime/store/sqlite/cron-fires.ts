/** The cron_fires ledger: one row per fired tick, unique on (workflow, trigger index, scheduled time). */

import type { Database } from 'bun:sqlite'
import type { CronFire } from '../types.ts'

interface FireRow {
  workflow_id: string; trigger_index: number; scheduled_at: number; execution_id: string; fired_at: number
}

export class CronFireRepo {
  constructor(private readonly db: Database) {}

  /**
   * Records a fired tick unless it, or a later tick of the same trigger, is recorded already (then false).
   * Called inside the transaction that creates the tick's execution: check and insert are one atomic step, and
   * the primary key would refuse a second row for the tick even without the write lock.
   */
  record(f: CronFire): boolean {
    const latest = this.last(f.workflowId, f.triggerIndex)
    if (latest !== undefined && f.scheduledAt <= latest) return false
    return this.db.query(`INSERT OR IGNORE INTO cron_fires (workflow_id, trigger_index, scheduled_at, execution_id, fired_at)
      VALUES (?, ?, ?, ?, ?)`).run(f.workflowId, f.triggerIndex, f.scheduledAt, f.executionId, f.firedAt).changes > 0
  }

  /** The newest fired tick of a trigger, or undefined when it never fired. */
  last(workflowId: string, triggerIndex: number): number | undefined {
    const row = this.db.query<{ t: number | null }, [string, number]>(
      'SELECT MAX(scheduled_at) AS t FROM cron_fires WHERE workflow_id = ? AND trigger_index = ?',
    ).get(workflowId, triggerIndex)
    return row?.t ?? undefined
  }

  /**
   * Deletes ledger rows scheduled before `before`, always keeping each trigger's newest one (the baseline
   * for missed ticks, and the head the scheduler never fires behind). Returns how many went.
   */
  prune(before: number): number {
    return this.db.query(`DELETE FROM cron_fires WHERE scheduled_at < ? AND EXISTS (
        SELECT 1 FROM cron_fires AS newer WHERE newer.workflow_id = cron_fires.workflow_id
          AND newer.trigger_index = cron_fires.trigger_index AND newer.scheduled_at > cron_fires.scheduled_at)`).run(before).changes
  }

  /** Every fired tick of a workflow, oldest first (inspection and tests). */
  list(workflowId: string): CronFire[] {
    return this.db.query<FireRow, [string]>(
      'SELECT * FROM cron_fires WHERE workflow_id = ? ORDER BY scheduled_at, trigger_index',
    ).all(workflowId).map((r) => ({
      workflowId: r.workflow_id, triggerIndex: r.trigger_index, scheduledAt: r.scheduled_at,
      executionId: r.execution_id, firedAt: r.fired_at,
    }))
  }
}
