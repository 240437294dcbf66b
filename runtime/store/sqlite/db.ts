/** Opens the SQLite database (WAL, busy timeout, foreign keys) and runs pending migrations. */

import { Database } from 'bun:sqlite'
import type { WarnFn } from '../../private-files.ts'
import { prepareDatabaseFiles } from './db-files.ts'
import { MIGRATIONS, type Migration } from './migrations.ts'

export interface OpenOptions {
  /** `NORMAL` survives a process crash (kill -9); `FULL` also survives power loss, ~10x slower commits. */
  synchronous?: 'NORMAL' | 'FULL'
  busyTimeoutMs?: number
  readonly?: boolean
  /** Told when an existing file's mode was narrowed (default: stderr). */
  onWarn?: WarnFn
}

/** Opens (creating when needed) and migrates the database at `path`. */
export function openDatabase(path: string, opts: OpenOptions = {}): Database {
  if (path !== ':memory:' && !opts.readonly) prepareDatabaseFiles(path, opts.onWarn)
  const db = new Database(path, opts.readonly ? { readonly: true } : { create: true })
  db.exec(`PRAGMA busy_timeout = ${opts.busyTimeoutMs ?? 5000}`)
  if (!opts.readonly) {
    db.exec('PRAGMA journal_mode = WAL')
    db.exec(`PRAGMA synchronous = ${opts.synchronous ?? 'NORMAL'}`)
  }
  db.exec('PRAGMA foreign_keys = ON')
  if (!opts.readonly) migrate(db)
  return db
}

/** Applies every migration newer than the recorded version; safe to call again. */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`)
  const applied: number[] = []
  const after: Migration[] = []
  // BEGIN IMMEDIATE so two processes opening one new database do not both migrate.
  const run = db.transaction(() => {
    const done = new Set(
      db.query<{ version: number }, []>('SELECT version FROM schema_migrations').all().map((r) => r.version),
    )
    for (const m of migrations) {
      if (done.has(m.version)) continue
      db.exec(m.sql)
      m.up?.(db)
      if (m.afterCommit) after.push(m)
      db.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version, m.name, Date.now(),
      )
      applied.push(m.version)
    }
  })
  run.immediate()
  for (const m of after) m.afterCommit?.(db)
  return applied
}

export function schemaVersion(db: Database): number {
  const row = db.query<{ v: number | null }, []>('SELECT MAX(version) AS v FROM schema_migrations').get()
  return row?.v ?? 0
}

export type { Database }
