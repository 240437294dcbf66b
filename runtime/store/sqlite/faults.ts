/**
 * Storage faults: the SQLite errors that say the database cannot be written right now (disk full, I/O
 * error, read-only, locked beyond the busy timeout), as opposed to a bad request. They map to one stable
 * code, STORAGE_UNAVAILABLE (HTTP 503 with Retry-After), and are worth retrying once the store recovers.
 */

import { AppError, ErrorCode } from '../../errors.ts'

/** What a client is told to wait before retrying a write (the `Retry-After` header, in seconds). */
export const STORAGE_RETRY_AFTER_SECONDS = 5

/**
 * SQLite result codes (primary or extended, e.g. `SQLITE_IOERR_WRITE`) that are a fault of the storage,
 * not of the statement: FULL (disk or quota), IOERR (the device), READONLY (a read-only mount or file),
 * CANTOPEN (the file or its WAL cannot be opened), BUSY/LOCKED (another writer beyond the busy timeout),
 * PROTOCOL (a WAL lock race), NOLFS (no large-file support).
 */
const FAULT = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|BUSY|LOCKED|PROTOCOL|NOLFS)(_|$)/

/** The SQLite code of `e` when it is a storage fault; undefined for anything else. */
export function storageFaultCode(e: unknown): string | undefined {
  if (e instanceof AppError) return e.code === ErrorCode.StorageUnavailable ? String((e.details as { sqlite?: string } | undefined)?.sqlite ?? e.code) : undefined
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' && FAULT.test(code) ? code : undefined
}

/** Whether `e` means "the store cannot be written now" (already translated or not). */
export function isStorageFault(e: unknown): boolean {
  return storageFaultCode(e) !== undefined
}

/** The STORAGE_UNAVAILABLE error for a storage fault, naming SQLite's own words; `e` itself when it is not one. */
export function translateStorageFault(e: unknown): unknown {
  if (e instanceof AppError) return e
  const sqlite = storageFaultCode(e)
  if (!sqlite) return e
  const why = e instanceof Error ? e.message : String(e)
  return new AppError(ErrorCode.StorageUnavailable,
    `the store cannot be written right now (${why}, ${sqlite}); nothing was changed, retry later`,
    { sqlite, retryAfterSeconds: STORAGE_RETRY_AFTER_SECONDS }, true)
}
