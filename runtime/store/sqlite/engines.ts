/** Engine leases (migration 7): one row per engine process, renewed by its heartbeat; its version (migration 15). */

import type { Database } from 'bun:sqlite'
import type { EngineRecord } from '../types.ts'

/** A row of `engines` as both backends read it (`version` is NULL in a row an older engine wrote). */
export interface EngineRow { id: string; host: string; pid: number; started_at: number; heartbeat_at: number; lease_until: number; version: string | null }

/** The record of a row, on either backend: no `version` when the row has none. */
export const toRecord = (r: EngineRow): EngineRecord => ({
  id: r.id, host: r.host, pid: r.pid, startedAt: r.started_at, heartbeatAt: r.heartbeat_at, leaseUntil: r.lease_until,
  ...(r.version ? { version: r.version } : {}),
})

/**
 * The SQL condition "the owner of `executions` holds a live lease at `?now`": used by claims, so that a takeover
 * is one conditional UPDATE (atomic in any database, with no reliance on SQLite's single writer).
 */
export const LIVE_OWNER = 'EXISTS (SELECT 1 FROM engines WHERE engines.id = executions.owner AND engines.lease_until >= ?)'

export class EngineRepo {
  constructor(private readonly db: Database) {}

  register(e: Omit<EngineRecord, 'heartbeatAt'>, now: number): void {
    this.db.query(`INSERT INTO engines (id, host, pid, started_at, heartbeat_at, lease_until, version) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, lease_until = excluded.lease_until`)
      .run(e.id, e.host, e.pid, e.startedAt, now, e.leaseUntil, e.version ?? null)
  }

  renew(id: string, now: number, leaseUntil: number): boolean {
    return this.db.query('UPDATE engines SET heartbeat_at = ?, lease_until = ? WHERE id = ?').run(now, leaseUntil, id).changes > 0
  }

  list(): EngineRecord[] {
    return this.db.query<EngineRow, []>('SELECT * FROM engines ORDER BY started_at, id').all().map(toRecord)
  }

  release(id: string): void {
    this.db.query('DELETE FROM engines WHERE id = ?').run(id)
  }
}
