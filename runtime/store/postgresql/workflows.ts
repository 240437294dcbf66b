/** Workflow repository on PostgreSQL (see sqlite/workflows.ts for the rules; the SQL differs, the behaviour not). */

import type { Workflow } from '../../workflow/model.ts'
import { compact, fromJson } from '../sqlite/json.ts'
import { KEPT_REVISIONS } from '../revisions.ts'
import type { WorkflowRecord, WorkflowRevision, WorkflowRevisionMeta } from '../types.ts'
import type { WebhookKeyRecord } from '../webhook-keys.ts'
import type { Q } from './sql.ts'

interface Row {
  id: string; source: string; model: string; enabled: boolean; revision: number
  webhook_key_hash: string | null; webhook_key_hint: string | null; webhook_key_created_at: number | null
  created_at: number; updated_at: number
}

const toRecord = (r: Row): WorkflowRecord =>
  compact({
    id: r.id, source: r.source, workflow: fromJson<Workflow>(r.model)!, enabled: r.enabled, revision: r.revision,
    webhookKey: r.webhook_key_hash === null ? undefined
      : { hash: r.webhook_key_hash, hint: r.webhook_key_hint ?? '', createdAt: r.webhook_key_created_at ?? r.created_at },
    createdAt: r.created_at, updatedAt: r.updated_at,
  })

export class WorkflowRepo {
  constructor(private readonly q: Q) {}

  /**
   * Call inside a transaction. A new id is inserted outright (`ON CONFLICT DO NOTHING`: of two first applies at once,
   * the second waits for the first's commit and then updates); an existing row is locked (`FOR UPDATE`) between its
   * read and its write.
   */
  async upsert(w: Workflow, source: string, now: number, webhookKey?: WebhookKeyRecord): Promise<{
    record: WorkflowRecord; created: boolean; changed: boolean; keyMinted: boolean
  }> {
    const inserted = (await this.q.run(`INSERT INTO workflows (id, source, model, enabled, revision, created_at, updated_at)
        VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT (id) DO NOTHING`, [w.id, source, JSON.stringify(w), w.enabled, now, now])) > 0
    const prev = inserted ? undefined : await this.get(w.id, true)
    if (prev) {
      await this.q.run('UPDATE workflows SET source = ?, model = ?, enabled = ?, revision = revision + ?, updated_at = ? WHERE id = ?',
        [source, JSON.stringify(w), w.enabled, prev.source !== source ? 1 : 0, prev.source !== source ? now : prev.updatedAt, w.id])
    }
    // A new revision keeps its YAML, and the oldest beyond KEPT_REVISIONS go (a re-created workflow starts at 1 again).
    if (!prev || prev.source !== source) {
      if (!prev) await this.q.run('DELETE FROM workflow_revisions WHERE workflow_id = ?', [w.id])
      const revision = (prev?.revision ?? 0) + 1
      await this.q.run(`INSERT INTO workflow_revisions (workflow_id, revision, source, created_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (workflow_id, revision) DO UPDATE SET source = EXCLUDED.source, created_at = EXCLUDED.created_at`, [w.id, revision, source, now])
      await this.q.run('DELETE FROM workflow_revisions WHERE workflow_id = ? AND revision <= ?', [w.id, revision - KEPT_REVISIONS])
    }
    const keyMinted = webhookKey !== undefined && prev?.webhookKey === undefined
    if (keyMinted) await this.setWebhookKey(w.id, webhookKey)
    return { record: (await this.get(w.id))!, created: !prev, changed: !prev || prev.source !== source, keyMinted }
  }

  async get(id: string, forUpdate = false): Promise<WorkflowRecord | undefined> {
    const r = await this.q.get<Row>(`SELECT * FROM workflows WHERE id = ?${forUpdate ? ' FOR UPDATE' : ''}`, [id])
    return r ? toRecord(r) : undefined
  }

  async list(opts: { limit?: number; offset?: number; enabled?: boolean } = {}): Promise<{ items: WorkflowRecord[]; total: number }> {
    const where = opts.enabled === undefined ? '' : `WHERE enabled = ${opts.enabled ? 'TRUE' : 'FALSE'}`
    const total = (await this.q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM workflows ${where}`))!.n
    const limit = opts.limit === undefined || opts.limit < 0 ? null : opts.limit
    const rows = await this.q.all<Row>(`SELECT * FROM workflows ${where} ORDER BY id LIMIT ? OFFSET ?`, [limit, opts.offset ?? 0])
    return { items: rows.map(toRecord), total }
  }

  async setEnabled(id: string, enabled: boolean, now: number): Promise<WorkflowRecord | undefined> {
    await this.q.run('UPDATE workflows SET enabled = ?, updated_at = ? WHERE id = ?', [enabled, now, id])
    return this.get(id)
  }

  async setWebhookKey(id: string, key: WebhookKeyRecord): Promise<boolean> {
    return (await this.q.run('UPDATE workflows SET webhook_key_hash = ?, webhook_key_hint = ?, webhook_key_created_at = ? WHERE id = ?',
      [key.hash, key.hint, key.createdAt, id])) > 0
  }

  /** Newest first, without sources; undefined when there is no such workflow. */
  async revisions(id: string): Promise<WorkflowRevisionMeta[] | undefined> {
    if (!(await this.q.get('SELECT 1 AS one FROM workflows WHERE id = ?', [id]))) return undefined
    return this.q.all<WorkflowRevisionMeta>(`SELECT revision, created_at AS "createdAt", octet_length(source) AS bytes
      FROM workflow_revisions WHERE workflow_id = ? ORDER BY revision DESC`, [id])
  }

  async revision(id: string, revision: number): Promise<WorkflowRevision | undefined> {
    return (await this.q.get<WorkflowRevision>(`SELECT revision, created_at AS "createdAt", octet_length(source) AS bytes, source
      FROM workflow_revisions WHERE workflow_id = ? AND revision = ?`, [id, revision])) ?? undefined
  }

  async delete(id: string): Promise<boolean> {
    await this.q.run('DELETE FROM workflow_revisions WHERE workflow_id = ?', [id])
    return (await this.q.run('DELETE FROM workflows WHERE id = ?', [id])) > 0
  }
}
