/** SQL of decision requests between engines on PostgreSQL (migration 4; see sqlite/decision-requests.ts). */

import { fromJson } from '../sqlite/json.ts'
import { readDecision } from '../decision-json.ts'
import type { DecisionOutcome, DecisionRequest } from '../types.ts'
import type { Q } from './sql.ts'

export class DecisionRequestRepo {
  constructor(private readonly q: Q) {}

  async add(r: DecisionRequest, from: string | undefined, now: number): Promise<boolean> {
    return (await this.q.run(`INSERT INTO decision_requests (id, execution_id, task_id, decision, from_engine, requested_at)
        VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    [r.id, r.executionId, r.taskId, JSON.stringify(r.decision), from ?? null, now])) > 0
  }

  async settle(id: string, outcome: DecisionOutcome, now: number): Promise<boolean> {
    return (await this.q.run('UPDATE decision_requests SET outcome = ?, settled_at = ? WHERE id = ? AND outcome IS NULL',
      [JSON.stringify(outcome), now, id])) > 0
  }

  async pending(owner: string): Promise<DecisionRequest[]> {
    return (await this.q.all<{ id: string; execution_id: string; task_id: string; decision: string }>(
      `SELECT d.id, d.execution_id, d.task_id, d.decision FROM decision_requests d JOIN executions e ON e.id = d.execution_id
        WHERE d.outcome IS NULL AND e.owner = ? AND e.state IN ('PENDING', 'RUNNING', 'WAITING') ORDER BY d.requested_at, d.id`, [owner]))
      .map((r) => ({ id: r.id, executionId: r.execution_id, taskId: r.task_id, decision: readDecision(r.decision) }))
  }

  async outcome(id: string): Promise<DecisionOutcome | undefined> {
    return fromJson<DecisionOutcome>((await this.q.get<{ outcome: string | null }>('SELECT outcome FROM decision_requests WHERE id = ?', [id]))?.outcome)
  }
}
