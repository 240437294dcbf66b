/** Workflow repository: applied YAML source, parsed model, enabled flag and revision. */

import type { Database } from 'bun:sqlite'
import type { Workflow } from '../workflow/model.ts'
import { compact, fromJson } from './json.ts'
import type { WorkflowRecord } from './types.ts'

interface Row {
  id: string; source: string; model: string; enabled: number; revision: number
  webhook_key: string | null; created_at: number; updated_at: number
}

const toRecord = (r: Row): WorkflowRecord =>
  compact({
    id: r.id, source: r.source, workflow: fromJson<Workflow>(r.model)!, enabled: r.enabled === 1,
    revision: r.revision, webhookKey: r.webhook_key ?? undefined, createdAt: r.created_at, updatedAt: r.updated_at,
  })

export class WorkflowRepo {
  constructor(private readonly db: Database) {}

  /**
   * Inserts or replaces a workflow. The revision increments only when the source changes; the enabled
   * flag follows the YAML (`enabled:`) on every apply. Returns the stored record and whether it was new.
   */
  upsert(w: Workflow, source: string, now: number, webhookKey?: string): { record: WorkflowRecord; created: boolean; changed: boolean } {
    return this.db.transaction(() => {
      const prev = this.get(w.id)
      if (!prev) {
        this.db.query(`INSERT INTO workflows (id, source, model, enabled, revision, webhook_key, created_at, updated_at)
          VALUES (?, ?, ?, ?, 1, ?, ?, ?)`).run(w.id, source, JSON.stringify(w), w.enabled ? 1 : 0, webhookKey ?? null, now, now)
        return { record: this.get(w.id)!, created: true, changed: true }
      }
      const changed = prev.source !== source
      this.db.query(`UPDATE workflows SET source = ?, model = ?, enabled = ?, revision = revision + ?,
          webhook_key = COALESCE(webhook_key, ?), updated_at = ? WHERE id = ?`)
        .run(source, JSON.stringify(w), w.enabled ? 1 : 0, changed ? 1 : 0, webhookKey ?? null, changed ? now : prev.updatedAt, w.id)
      return { record: this.get(w.id)!, created: false, changed }
    })()
  }

  get(id: string): WorkflowRecord | undefined {
    const r = this.db.query<Row, [string]>('SELECT * FROM workflows WHERE id = ?').get(id)
    return r ? toRecord(r) : undefined
  }

  list(opts: { limit?: number; offset?: number; enabled?: boolean } = {}): { items: WorkflowRecord[]; total: number } {
    const where = opts.enabled === undefined ? '' : `WHERE enabled = ${opts.enabled ? 1 : 0}`
    const total = this.db.query<{ n: number }, []>(`SELECT COUNT(*) AS n FROM workflows ${where}`).get()!.n
    const rows = this.db
      .query<Row, [number, number]>(`SELECT * FROM workflows ${where} ORDER BY id LIMIT ? OFFSET ?`)
      .all(opts.limit ?? -1, opts.offset ?? 0)
    return { items: rows.map(toRecord), total }
  }

  setEnabled(id: string, enabled: boolean, now: number): WorkflowRecord | undefined {
    this.db.query('UPDATE workflows SET enabled = ?, updated_at = ? WHERE id = ?').run(enabled ? 1 : 0, now, id)
    return this.get(id)
  }

  setWebhookKey(id: string, key: string | null): void {
    this.db.query('UPDATE workflows SET webhook_key = ? WHERE id = ?').run(key, id)
  }

  delete(id: string): boolean {
    return this.db.query('DELETE FROM workflows WHERE id = ?').run(id).changes > 0
  }
}
