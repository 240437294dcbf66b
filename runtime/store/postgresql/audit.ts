/** The audit trail on PostgreSQL: reads, and the one insert every writer uses (in the same transaction as the state). */

import { toJson } from '../sqlite/json.ts'
import type { AuditRecord } from '../types.ts'
import type { Q } from './sql.ts'
import { toRecord, type Row } from '../sqlite/audit.ts'

const INSERT = 'INSERT INTO audit_events (ts, type, execution_id, task_id, workflow_id, data) VALUES (?, ?, ?, ?, ?, ?)'

export class AuditRepo {
  constructor(private readonly q: Q) {}

  async forExecution(executionId: string): Promise<AuditRecord[]> {
    return (await this.q.all<Row>('SELECT * FROM audit_events WHERE execution_id = ? ORDER BY id', [executionId])).map(toRecord)
  }

  async list(opts: { type?: string; workflowId?: string; limit?: number } = {}): Promise<AuditRecord[]> {
    const where: string[] = []
    const args: (string | number)[] = []
    if (opts.type) { where.push('type = ?'); args.push(opts.type) }
    if (opts.workflowId) { where.push('workflow_id = ?'); args.push(opts.workflowId) }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : ''
    return (await this.q.all<Row>(`SELECT * FROM audit_events ${clause} ORDER BY id DESC LIMIT ?`, [...args, opts.limit ?? 1000])).map(toRecord)
  }

  async record(ts: number, type: string, ids: { executionId?: string; taskId?: string; workflowId?: string }, data?: unknown): Promise<void> {
    await this.q.run(INSERT, this.row(ts, type, ids, data))
  }

  /** `record` without waiting for the answer (`Q.send`): inside a transaction whose opener waits with `Q.settled`. */
  send(ts: number, type: string, ids: { executionId?: string; taskId?: string; workflowId?: string }, data?: unknown): void {
    this.q.send(INSERT, this.row(ts, type, ids, data))
  }

  private row(ts: number, type: string, ids: { executionId?: string; taskId?: string; workflowId?: string }, data: unknown) {
    return [ts, type, ids.executionId ?? null, ids.taskId ?? null, ids.workflowId ?? null, toJson(data)]
  }
}
