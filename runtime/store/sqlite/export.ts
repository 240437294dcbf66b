/**
 * The SQLite side of `workflow storage migrate` (runtime/store/migrate/): a store file opened read-only and read
 * from one snapshot (a read transaction held from `snapshot()` to close), so every count and every row comes from
 * the same moment. It refuses a file that is not a SQLite database, not an autokestra store,
 * or at another schema version than this build's, and says which of the engines registered in it still run.
 */

import { closeSync, openSync, readSync, statSync } from 'node:fs'
import { AppError, ErrorCode } from '../../errors.ts'
import type { CopySource, CopyValue } from '../migrate/copy.ts'
import type { EngineLiveness, EngineRecord } from '../types.ts'
import { openDatabase, schemaVersion, type Database } from './db.ts'
import { EngineLocks } from './engine-locks.ts'
import { EngineRepo } from './engines.ts'
import { MIGRATIONS } from './migrations.ts'

/** The first 16 bytes of every SQLite database file. */
const MAGIC = Buffer.from('SQLite format 3\0', 'latin1')

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`

/** Whether `path` starts like a SQLite database (an empty file is none: SQLite would make a new one of it). */
function looksLikeSqlite(path: string): boolean {
  const fd = openSync(path, 'r')
  try {
    const head = Buffer.alloc(MAGIC.length)
    return readSync(fd, head, 0, head.length, 0) === head.length && head.equals(MAGIC)
  } finally {
    closeSync(fd)
  }
}

export class SqliteSource implements CopySource {
  private constructor(private readonly handle: Database, readonly path: string) {}

  /**
   * Opens the store at `path` read-only (call `snapshot()` before reading it): NOT_FOUND when there is no such file,
   * INVALID_INPUT when it is not a SQLite database or not an autokestra store, CONFLICT when its schema is older or
   * newer than this build's (an older one is migrated by starting this version's server on it once).
   */
  static open(path: string): SqliteSource {
    let isFile: boolean
    try {
      isFile = statSync(path).isFile()
    } catch {
      throw new AppError(ErrorCode.NotFound, `no such file: ${path}`, { path })
    }
    if (!isFile || !looksLikeSqlite(path)) throw new AppError(ErrorCode.InvalidInput, `${path} is not a SQLite database`, { path })
    const handle = openDatabase(path, { readonly: true })
    try {
      const source = new SqliteSource(handle, path)
      source.checkSchema()
      return source
    } catch (e) {
      handle.close()
      throw e
    }
  }

  /**
   * Begins the snapshot every later read comes from (again, if one was begun), and checks the schema in it. Called
   * once nothing can write any more (the caller holds the data dir lock), so no write lands between the two.
   */
  snapshot(): void {
    if (this.handle.inTransaction) this.handle.exec('COMMIT')
    this.handle.exec('BEGIN')
    this.checkSchema()
  }

  private checkSchema(): void {
    const path = this.path
    const tables = new Set(this.tables())
    if (!tables.has('schema_migrations') || !tables.has('workflows')) {
      throw new AppError(ErrorCode.InvalidInput, `${path} is a SQLite database but not an autokestra store (it has no schema_migrations or workflows table)`, { path })
    }
    const version = schemaVersion(this.handle)
    const current = MIGRATIONS.at(-1)!.version
    if (version !== current) {
      throw new AppError(ErrorCode.Conflict, version < current
        ? `${path} is at schema version ${version}, this autokestra's is ${current}: start this version's server on it once ` +
          '(it migrates the file on start), stop it, then migrate again'
        : `${path} is at schema version ${version}, newer than this autokestra's (${current}): migrate with the version that wrote it`,
      { path, version, expected: current })
    }
  }

  tables(): string[] {
    return this.handle.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r) => r.name)
  }

  columns(table: string): string[] {
    return this.handle.query<{ name: string }, [string]>('SELECT name FROM pragma_table_info(?) ORDER BY cid').all(table).map((r) => r.name)
  }

  count(table: string): number {
    return this.handle.query<{ n: number }, []>(`SELECT COUNT(*) AS n FROM ${quote(table)}`).get()?.n ?? 0
  }

  *rows(table: string, columns: readonly string[]): Iterable<CopyValue[]> {
    const stmt = this.handle.query<Record<string, CopyValue>, []>(`SELECT ${columns.map(quote).join(', ')} FROM ${quote(table)}`)
    for (const r of stmt.iterate()) yield columns.map((c) => r[c] ?? null)
  }

  sequences(): Record<string, number> {
    const has = this.handle.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'").get()
    if (!has) return {}
    const rows = this.handle.query<{ name: string; seq: number }, []>('SELECT name, seq FROM sqlite_sequence').all()
    return Object.fromEntries(rows.map((r) => [r.name, r.seq]))
  }

  /**
   * The engines registered in the store with what their liveness proofs say (runtime/liveness-lock.ts): `alive`
   * while the process that registered (a server, or `workflow run`) holds its lock.
   */
  engines(): (EngineRecord & { liveness: EngineLiveness })[] {
    const locks = new EngineLocks(this.path)
    return new EngineRepo(this.handle).list().map((e) => ({ ...e, liveness: locks.liveness(e.id) }))
  }

  /** Ends the snapshot and closes the file (nothing was written to it). */
  close(): void {
    if (this.handle.inTransaction) this.handle.exec('COMMIT')
    this.handle.close()
  }
}
