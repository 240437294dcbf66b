/** The audit trail on PostgreSQL: reads, and the one insert every writer uses (in the same transaction as the state). */

import { compact, fromJson, toJson } from '../sqlite/json.ts'
import type { AuditRecord } from '../types.ts'
import type { Q } from './sql.ts'

interface Row {
  id: number; ts: number; type: string; execution_id: string | null; task_id: string | null
  workflow_id: string | null; data: string | null
}

const toRecord = (r: Row): AuditRecord =>
  compact({
    id: r.id, ts: r.ts, type: r.type, executionId: r.execution_id ?? undefined, taskId: r.task_id ?? undefined,
    workflowId: r.workflow_id ?? undefined, data: fromJson<unknown>(r.data),
  })

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
    await this.q.run('INSERT INTO audit_events (ts, type, execution_id, task_id, workflow_id, data) VALUES (?, ?, ?, ?, ?, ?)',
      [ts, type, ids.executionId ?? null, ids.taskId ?? null, ids.workflowId ?? null, toJson(data)])
  }
}
