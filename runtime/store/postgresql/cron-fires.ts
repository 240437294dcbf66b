/** The cron_fires ledger on PostgreSQL: one row per fired tick, unique on (workflow, trigger index, scheduled time). */

import type { CronFire } from '../types.ts'
import type { Q } from './sql.ts'

interface FireRow { workflow_id: string; trigger_index: number; scheduled_at: number; execution_id: string; fired_at: number }

export class CronFireRepo {
  constructor(private readonly q: Q) {}

  /**
   * Records a fired tick unless it, or a later tick of the same trigger, is recorded already (then false). Two
   * concurrent creators of one tick: the primary key makes the second INSERT wait for the first's commit, then
   * do nothing (`ON CONFLICT DO NOTHING`), so it changes no row and its request is refused.
   */
  async record(f: CronFire): Promise<boolean> {
    const latest = await this.last(f.workflowId, f.triggerIndex)
    if (latest !== undefined && f.scheduledAt <= latest) return false
    return (await this.q.run(`INSERT INTO cron_fires (workflow_id, trigger_index, scheduled_at, execution_id, fired_at)
      VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, [f.workflowId, f.triggerIndex, f.scheduledAt, f.executionId, f.firedAt])) > 0
  }

  async last(workflowId: string, triggerIndex: number): Promise<number | undefined> {
    const row = await this.q.get<{ t: number | null }>('SELECT MAX(scheduled_at) AS t FROM cron_fires WHERE workflow_id = ? AND trigger_index = ?',
      [workflowId, triggerIndex])
    return row?.t ?? undefined
  }

  async prune(before: number): Promise<number> {
    return this.q.run(`DELETE FROM cron_fires WHERE scheduled_at < ? AND EXISTS (
        SELECT 1 FROM cron_fires AS newer WHERE newer.workflow_id = cron_fires.workflow_id
          AND newer.trigger_index = cron_fires.trigger_index AND newer.scheduled_at > cron_fires.scheduled_at)`, [before])
  }

  async list(workflowId: string): Promise<CronFire[]> {
    return (await this.q.all<FireRow>('SELECT * FROM cron_fires WHERE workflow_id = ? ORDER BY scheduled_at, trigger_index', [workflowId]))
      .map((r) => ({ workflowId: r.workflow_id, triggerIndex: r.trigger_index, scheduledAt: r.scheduled_at, executionId: r.execution_id, firedAt: r.fired_at }))
  }
}
