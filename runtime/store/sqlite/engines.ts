/** Engine leases (migration 7): one row per engine process, renewed by its heartbeat. */

import type { Database } from 'bun:sqlite'
import type { EngineRecord } from '../types.ts'

interface Row { id: string; host: string; pid: number; started_at: number; heartbeat_at: number; lease_until: number }

const toRecord = (r: Row): EngineRecord =>
  ({ id: r.id, host: r.host, pid: r.pid, startedAt: r.started_at, heartbeatAt: r.heartbeat_at, leaseUntil: r.lease_until })

/**
 * The SQL condition "the owner of `executions` holds a live lease at `?now`": used by claims, so that a takeover
 * is one conditional UPDATE (atomic in any database, with no reliance on SQLite's single writer).
 */
export const LIVE_OWNER = 'EXISTS (SELECT 1 FROM engines WHERE engines.id = executions.owner AND engines.lease_until >= ?)'

export class EngineRepo {
  constructor(private readonly db: Database) {}

  register(e: Omit<EngineRecord, 'heartbeatAt'>, now: number): void {
    this.db.query(`INSERT INTO engines (id, host, pid, started_at, heartbeat_at, lease_until) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, lease_until = excluded.lease_until`)
      .run(e.id, e.host, e.pid, e.startedAt, now, e.leaseUntil)
  }

  renew(id: string, now: number, leaseUntil: number): boolean {
    return this.db.query('UPDATE engines SET heartbeat_at = ?, lease_until = ? WHERE id = ?').run(now, leaseUntil, id).changes > 0
  }

  list(): EngineRecord[] {
    return this.db.query<Row, []>('SELECT * FROM engines ORDER BY started_at, id').all().map(toRecord)
  }

  release(id: string): void {
    this.db.query('DELETE FROM engines WHERE id = ?').run(id)
  }
}
