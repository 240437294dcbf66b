/**
 * SQLite's storage faults: the errors that say the database cannot be written right now (disk full, I/O
 * error, read-only, locked beyond the busy timeout), as opposed to a bad statement. They become the
 * backend-neutral STORAGE_UNAVAILABLE (runtime/store/unavailable.ts) before they leave this backend.
 */

import { StorageUnavailableError } from '../unavailable.ts'

/**
 * SQLite result codes (primary or extended, e.g. `SQLITE_IOERR_WRITE`) that are a fault of the storage,
 * not of the statement: FULL (disk or quota), IOERR (the device), READONLY (a read-only mount or file),
 * CANTOPEN (the file or its WAL cannot be opened), BUSY/LOCKED (another writer beyond the busy timeout),
 * PROTOCOL (a WAL lock race), NOLFS (no large-file support).
 */
const FAULT = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|BUSY|LOCKED|PROTOCOL|NOLFS)(_|$)/

/** The SQLite code of `e` when it is a raw storage fault; undefined for anything else. */
export function sqliteFaultCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' && FAULT.test(code) ? code : undefined
}

/** Whether `e` is a raw SQLite storage fault (not yet translated). */
export function isSqliteFault(e: unknown): boolean {
  return sqliteFaultCode(e) !== undefined
}

/** STORAGE_UNAVAILABLE for a storage fault, naming SQLite's own words; `e` itself when it is not one. */
export function translateSqliteFault(e: unknown): unknown {
  const code = sqliteFaultCode(e)
  if (!code) return e
  return new StorageUnavailableError('sqlite', code, e instanceof Error ? e.message : String(e))
}

