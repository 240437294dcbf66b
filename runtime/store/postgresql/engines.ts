/**
 * Engine leases on PostgreSQL: one row per engine, renewed by its heartbeat, and its liveness proof: a session
 * advisory lock that the registering handle holds on a connection of its own for as long as the engine lives.
 * PostgreSQL drops a session's locks when its connection ends, however it ends (close, process death, a node
 * lost), so any node reads `pg_locks` to tell a dead owner from a live one; no pid is ever consulted.
 */

import { createHash } from 'node:crypto'
import type { ReservedSQL, SQL } from 'bun'
import type { EngineLiveness, EngineRecord } from '../types.ts'
import { toRecord, type EngineRow } from '../sqlite/engines.ts'
import { Q } from './sql.ts'

/** The SQL condition "the owner of `executions` holds a live lease at `?now`" (the same as SQLite's). */
export { LIVE_OWNER } from '../sqlite/engines.ts'

/** The advisory-lock namespace of engine proofs (the first key); the second is a hash of the engine id. */
const PROOF_SPACE = 0x616b02

interface Row extends EngineRow { proof: boolean }

/** The proof's second key: 32 bits of the id's SHA-256, signed (for pg_try_advisory_lock) and as pg_locks shows it (an oid). */
function proofKey(id: string): { signed: number; oid: number } {
  const signed = createHash('sha256').update(id).digest().readInt32BE(0)
  return { signed, oid: signed >>> 0 }
}

export class EngineRepo {
  constructor(private readonly q: Q) {}

  async register(e: Omit<EngineRecord, 'heartbeatAt'>, now: number, proof: boolean): Promise<void> {
    await this.q.run(`INSERT INTO engines (id, host, pid, started_at, heartbeat_at, lease_until, version, proof) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, lease_until = excluded.lease_until, proof = excluded.proof`,
    [e.id, e.host, e.pid, e.startedAt, now, e.leaseUntil, e.version ?? null, proof])
  }

  async renew(id: string, now: number, leaseUntil: number): Promise<boolean> {
    return (await this.q.run('UPDATE engines SET heartbeat_at = ?, lease_until = ? WHERE id = ?', [now, leaseUntil, id])) > 0
  }

  async list(): Promise<EngineRecord[]> {
    return (await this.q.all<Row>('SELECT * FROM engines ORDER BY started_at, id')).map(toRecord)
  }

  async release(id: string): Promise<void> {
    await this.q.run('DELETE FROM engines WHERE id = ?', [id])
  }

  /** Alive while some session holds the proof; gone when the row says it had one and nobody holds it; unknown otherwise. */
  async liveness(id: string): Promise<EngineLiveness> {
    const r = await this.q.get<{ held: boolean; proof: boolean | null }>(`SELECT
        EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND classid = ?::oid AND objid = ?::oid) AS held,
        (SELECT proof FROM engines WHERE id = ?) AS proof`, [PROOF_SPACE, proofKey(id).oid, id])
    if (r?.held) return 'alive'
    return r?.proof ? 'gone' : 'unknown'
  }
}

/** The proofs one store handle holds: session locks on one connection reserved for them (closed, never pooled, at the end). */
export class EngineProofs {
  private conn: ReservedSQL | undefined
  private readonly held = new Set<string>()

  constructor(private readonly pool: SQL) {}

  /** Takes engine `id`'s proof; false when it cannot (another session holds it, or no connection): `unknown` to others. */
  async hold(id: string): Promise<boolean> {
    if (this.held.has(id)) return true
    try {
      this.conn ??= await this.pool.reserve()
      const r = await new Q(this.conn).get<{ ok: boolean }>('SELECT pg_try_advisory_lock(?, ?) AS ok', [PROOF_SPACE, proofKey(id).signed])
      if (r?.ok) this.held.add(id)
      return r?.ok === true
    } catch {
      return false
    }
  }

  /**
   * After a heartbeat: whether this handle's session still holds every proof it took. A connection lost (a network
   * blip, a server restart) drops its locks with it: a new connection takes them again, so the engine, which
   * renewed its lease, does not look `gone` to others for the rest of its life. Best effort, like `hold`.
   */
  async ensure(): Promise<void> {
    if (this.held.size === 0) return
    const ids = [...this.held]
    try {
      const r = await new Q(this.conn!).get<{ n: number }>(`SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted
          AND objsubid = 2 AND pid = pg_backend_pid() AND classid = ?::oid AND objid IN (${ids.map(() => '?::oid').join(', ')})`,
      [PROOF_SPACE, ...ids.map((id) => proofKey(id).oid)])
      if (r?.n === ids.length) return
    } catch { /* the session is gone */ }
    const old = this.conn
    this.conn = undefined
    this.held.clear()
    await old?.close().catch(() => {})
    for (const id of ids) await this.hold(id)
  }

  async release(id: string): Promise<void> {
    if (!this.held.delete(id) || !this.conn) return
    try { await new Q(this.conn).run('SELECT pg_advisory_unlock(?, ?)', [PROOF_SPACE, proofKey(id).signed]) } catch { /* the session is gone: so is the lock */ }
  }

  /** Every proof goes with the connection, as at the process's death. */
  async close(): Promise<void> {
    this.held.clear()
    const c = this.conn
    this.conn = undefined
    if (!c) return
    // Unlocked before the connection goes: the server ends a closed session a moment later, and a prober must not see it alive then.
    await new Q(c).run('SELECT pg_advisory_unlock_all()').catch(() => {})
    await c.close().catch(() => {})
  }
}
