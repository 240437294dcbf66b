/** SQL of decision requests between engines (migration 16; see RequestDecision in ../checkpoint.ts). */

import type { Database } from 'bun:sqlite'
import { readDecision } from '../decision-json.ts'
import type { DecisionOutcome, DecisionRequest } from '../types.ts'
import { fromJson } from './json.ts'

export class DecisionRequestRepo {
  constructor(private readonly db: Database) {}

  /** False when the id was used before (nothing written). */
  add(r: DecisionRequest, from: string | undefined, now: number): boolean {
    return this.db.query(`INSERT INTO decision_requests (id, execution_id, task_id, decision, from_engine, requested_at)
        VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
      .run(r.id, r.executionId, r.taskId, JSON.stringify(r.decision), from ?? null, now).changes > 0
  }

  /** The first outcome stays: false when the request is unknown or settled already. */
  settle(id: string, outcome: DecisionOutcome, now: number): boolean {
    return this.db.query('UPDATE decision_requests SET outcome = ?, settled_at = ? WHERE id = ? AND outcome IS NULL')
      .run(JSON.stringify(outcome), now, id).changes > 0
  }

  pending(owner: string): DecisionRequest[] {
    return this.db.query<{ id: string; execution_id: string; task_id: string; decision: string }, [string]>(
      `SELECT d.id, d.execution_id, d.task_id, d.decision FROM decision_requests d JOIN executions e ON e.id = d.execution_id
        WHERE d.outcome IS NULL AND e.owner = ? AND e.state IN ('PENDING', 'RUNNING', 'WAITING') ORDER BY d.requested_at, d.id`)
      .all(owner)
      .map((r) => ({ id: r.id, executionId: r.execution_id, taskId: r.task_id, decision: readDecision(r.decision) }))
  }

  outcome(id: string): DecisionOutcome | undefined {
    return fromJson<DecisionOutcome>(this.db.query<{ outcome: string | null }, [string]>('SELECT outcome FROM decision_requests WHERE id = ?').get(id)?.outcome)
  }
}
