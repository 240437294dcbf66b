/** Workflow repository: applied YAML source, parsed model, enabled flag, revision and webhook key digest. */

import type { Database } from 'bun:sqlite'
import type { Workflow } from '../../workflow/model.ts'
import { compact, fromJson } from './json.ts'
import { KEPT_REVISIONS } from '../revisions.ts'
import type { WorkflowRecord, WorkflowRevision, WorkflowRevisionMeta } from '../types.ts'
import type { WebhookKeyRecord } from '../webhook-keys.ts'

interface Row {
  id: string; source: string; model: string; enabled: number; revision: number
  webhook_key_hash: string | null; webhook_key_hint: string | null; webhook_key_created_at: number | null
  created_at: number; updated_at: number
}

const toRecord = (r: Row): WorkflowRecord =>
  compact({
    id: r.id, source: r.source, workflow: fromJson<Workflow>(r.model)!, enabled: r.enabled === 1, revision: r.revision,
    webhookKey: r.webhook_key_hash === null ? undefined
      : { hash: r.webhook_key_hash, hint: r.webhook_key_hint ?? '', createdAt: r.webhook_key_created_at ?? r.created_at },
    createdAt: r.created_at, updatedAt: r.updated_at,
  })

export class WorkflowRepo {
  constructor(private readonly db: Database) {}

  /**
   * Inserts or replaces a workflow. The revision increments only when the source changes; the enabled
   * flag follows the YAML (`enabled:`) on every apply. `webhookKey` is stored only if the workflow has no key
   * yet (`keyMinted` says whether it was). Returns the stored record and whether it was new.
   */
  upsert(w: Workflow, source: string, now: number, webhookKey?: WebhookKeyRecord): {
    record: WorkflowRecord; created: boolean; changed: boolean; keyMinted: boolean
  } {
    return this.db.transaction(() => {
      const prev = this.get(w.id)
      if (!prev) {
        this.db.query(`INSERT INTO workflows (id, source, model, enabled, revision, created_at, updated_at)
          VALUES (?, ?, ?, ?, 1, ?, ?)`).run(w.id, source, JSON.stringify(w), w.enabled ? 1 : 0, now, now)
      } else {
        this.db.query(`UPDATE workflows SET source = ?, model = ?, enabled = ?, revision = revision + ?, updated_at = ? WHERE id = ?`)
          .run(source, JSON.stringify(w), w.enabled ? 1 : 0, prev.source !== source ? 1 : 0, prev.source !== source ? now : prev.updatedAt, w.id)
      }
      // A new revision keeps its YAML, and the oldest beyond KEPT_REVISIONS go (a re-created workflow starts at 1 again).
      if (!prev || prev.source !== source) {
        if (!prev) this.db.query('DELETE FROM workflow_revisions WHERE workflow_id = ?').run(w.id)
        const revision = (prev?.revision ?? 0) + 1
        this.db.query('INSERT OR REPLACE INTO workflow_revisions (workflow_id, revision, source, created_at) VALUES (?, ?, ?, ?)')
          .run(w.id, revision, source, now)
        this.db.query('DELETE FROM workflow_revisions WHERE workflow_id = ? AND revision <= ?').run(w.id, revision - KEPT_REVISIONS)
      }
      const keyMinted = webhookKey !== undefined && prev?.webhookKey === undefined
      if (keyMinted) this.setWebhookKey(w.id, webhookKey)
      return { record: this.get(w.id)!, created: !prev, changed: !prev || prev.source !== source, keyMinted }
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

  /** Replaces the webhook key's digest (minting or rotating); false when there is no such workflow. */
  setWebhookKey(id: string, key: WebhookKeyRecord): boolean {
    return this.db.query('UPDATE workflows SET webhook_key_hash = ?, webhook_key_hint = ?, webhook_key_created_at = ? WHERE id = ?')
      .run(key.hash, key.hint, key.createdAt, id).changes > 0
  }

  /** Newest first, without sources; undefined when there is no such workflow. */
  revisions(id: string): WorkflowRevisionMeta[] | undefined {
    if (!this.db.query('SELECT 1 FROM workflows WHERE id = ?').get(id)) return undefined
    return this.db.query<WorkflowRevisionMeta, [string]>(`SELECT revision, created_at AS createdAt, length(CAST(source AS BLOB)) AS bytes
      FROM workflow_revisions WHERE workflow_id = ? ORDER BY revision DESC`).all(id)
  }

  revision(id: string, revision: number): WorkflowRevision | undefined {
    return this.db.query<WorkflowRevision, [string, number]>(`SELECT revision, created_at AS createdAt, length(CAST(source AS BLOB)) AS bytes, source
      FROM workflow_revisions WHERE workflow_id = ? AND revision = ?`).get(id, revision) ?? undefined
  }

  delete(id: string): boolean {
    this.db.query('DELETE FROM workflow_revisions WHERE workflow_id = ?').run(id)
    return this.db.query('DELETE FROM workflows WHERE id = ?').run(id).changes > 0
  }
}
