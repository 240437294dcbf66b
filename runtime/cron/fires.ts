/** The cron_fires ledger: one row per fired tick, unique on (workflow, trigger index, scheduled time). */

import type { Store } from '../store/sqlite/legacy.ts'

/** One fired tick, written in the transaction that creates its execution. */
export interface CronFire {
  workflowId: string
  triggerIndex: number
  scheduledAt: number
  executionId: string
  firedAt: number
}

interface FireRow {
  workflow_id: string; trigger_index: number; scheduled_at: number; execution_id: string; fired_at: number
}

/**
 * Records a fired tick. Throws SQLite's unique-constraint error when the tick is already recorded:
 * called from the engine's `onCreate`, that aborts the execution's creation (see `isDuplicateFire`).
 */
export function recordFire(store: Store, f: CronFire): void {
  store.db.query(`INSERT INTO cron_fires (workflow_id, trigger_index, scheduled_at, execution_id, fired_at)
    VALUES (?, ?, ?, ?, ?)`).run(f.workflowId, f.triggerIndex, f.scheduledAt, f.executionId, f.firedAt)
}

/** Whether `e` is the unique-key violation `recordFire` throws for a tick fired already. */
export function isDuplicateFire(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE'
}

/** Whether the tick has been fired (by this process or another one sharing the database). */
export function hasFired(store: Store, workflowId: string, triggerIndex: number, scheduledAt: number): boolean {
  return store.db.query<{ n: number }, [string, number, number]>(
    'SELECT 1 AS n FROM cron_fires WHERE workflow_id = ? AND trigger_index = ? AND scheduled_at = ?',
  ).get(workflowId, triggerIndex, scheduledAt) !== null
}

/** The newest fired tick of a trigger, or undefined when it never fired. */
export function lastFireAt(store: Store, workflowId: string, triggerIndex: number): number | undefined {
  const row = store.db.query<{ t: number | null }, [string, number]>(
    'SELECT MAX(scheduled_at) AS t FROM cron_fires WHERE workflow_id = ? AND trigger_index = ?',
  ).get(workflowId, triggerIndex)
  return row?.t ?? undefined
}

/**
 * Deletes ledger rows scheduled before `before`, always keeping each trigger's newest one (the baseline
 * for missed ticks, and the head the scheduler never fires behind). Returns how many went.
 */
export function pruneFires(store: Store, before: number): number {
  return store.db.query(`DELETE FROM cron_fires WHERE scheduled_at < ? AND EXISTS (
      SELECT 1 FROM cron_fires AS newer WHERE newer.workflow_id = cron_fires.workflow_id
        AND newer.trigger_index = cron_fires.trigger_index AND newer.scheduled_at > cron_fires.scheduled_at)`).run(before).changes
}

/** Every fired tick of a workflow, oldest first (inspection and tests). */
export function listFires(store: Store, workflowId: string): CronFire[] {
  return store.db.query<FireRow, [string]>(
    'SELECT * FROM cron_fires WHERE workflow_id = ? ORDER BY scheduled_at, trigger_index',
  ).all(workflowId).map((r) => ({
    workflowId: r.workflow_id, triggerIndex: r.trigger_index, scheduledAt: r.scheduled_at,
    executionId: r.execution_id, firedAt: r.fired_at,
  }))
}
