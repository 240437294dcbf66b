/** Opens the PostgreSQL pool (Bun.sql) and runs pending migrations. */

import { SQL } from 'bun'
import { MIGRATIONS, type Migration } from './migrations.ts'
import { Q } from './sql.ts'

/** The advisory-lock namespace of this backend (the first key of every two-key lock it takes): "ak" + 1. */
export const LOCK_SPACE = 0x616b01
/** Second keys in LOCK_SPACE: migrations, the commit lock (store.ts). Engine proofs use their own space (engines.ts). */
export const LOCK_MIGRATE = 1
export const LOCK_COMMIT = 2

export interface PgOpenOptions {
  /** Connections in the pool (default 10). */
  max?: number
  /** Open for reading only: nothing is created or migrated. */
  readonly?: boolean
}

/** A pool on `url` (no idle timeout: the engine-proof connection must never be closed for idling),
 * `postgres://user:password@host:port/database`; BIGINTs as BigInt (sql.ts turns them into numbers). */
export function openPool(url: string, opts: PgOpenOptions = {}): SQL {
  return new SQL({ url, bigint: true, max: opts.max ?? 10, idleTimeout: 0, connectionTimeout: 10 })
}

/** Applies every migration newer than the recorded version, in one transaction; safe to call again and concurrently. */
export async function migrate(sql: SQL, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return sql.begin(async (tx) => {
    const q = new Q(tx)
    await q.run('SELECT pg_advisory_xact_lock(?, ?)', [LOCK_SPACE, LOCK_MIGRATE])
    await q.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
    const done = new Set((await q.all<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version))
    const applied: number[] = []
    for (const m of migrations) {
      if (done.has(m.version)) continue
      await q.exec(m.sql)
      await m.up?.(q)
      await q.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, Date.now()])
      applied.push(m.version)
    }
    return applied
  })
}

export async function schemaVersion(sql: SQL): Promise<number> {
  return (await new Q(sql).get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations'))?.v ?? 0
}
