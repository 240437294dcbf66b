/** Audit trail reads (writes happen in the checkpoint writer, in the same transaction as the state). */

import type { Database } from 'bun:sqlite'
import { compact, fromJson } from './json.ts'
import type { AuditRecord } from '../types.ts'

/** A row of the table as both backends read it (the PostgreSQL backend maps with the same function). */
export interface Row {
  id: number; ts: number; type: string; execution_id: string | null; task_id: string | null
  workflow_id: string | null; data: string | null
}

export const toRecord = (r: Row): AuditRecord =>
  compact({
    id: r.id, ts: r.ts, type: r.type, executionId: r.execution_id ?? undefined, taskId: r.task_id ?? undefined,
    workflowId: r.workflow_id ?? undefined, data: fromJson<unknown>(r.data),
  })

export class AuditRepo {
  constructor(private readonly db: Database) {}

  forExecution(executionId: string): AuditRecord[] {
    return this.db.query<Row, [string]>('SELECT * FROM audit_events WHERE execution_id = ? ORDER BY id').all(executionId).map(toRecord)
  }

  list(opts: { type?: string; workflowId?: string; limit?: number } = {}): AuditRecord[] {
    const where: string[] = []
    const args: (string | number)[] = []
    if (opts.type) { where.push('type = ?'); args.push(opts.type) }
    if (opts.workflowId) { where.push('workflow_id = ?'); args.push(opts.workflowId) }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : ''
    return this.db.query<Row, (string | number)[]>(`SELECT * FROM audit_events ${clause} ORDER BY id DESC LIMIT ?`)
      .all(...args, opts.limit ?? 1000).map(toRecord)
  }

  /** Records an event outside any state transition (workflow applied, deleted…). */
  record(ts: number, type: string, ids: { executionId?: string; taskId?: string; workflowId?: string }, data?: unknown): void {
    this.db.query('INSERT INTO audit_events (ts, type, execution_id, task_id, workflow_id, data) VALUES (?, ?, ?, ?, ?, ?)')
      .run(ts, type, ids.executionId ?? null, ids.taskId ?? null, ids.workflowId ?? null, data === undefined ? null : JSON.stringify(data))
  }
}
