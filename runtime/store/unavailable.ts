/**
 * STORAGE_UNAVAILABLE: what every backend turns its storage faults into (disk full, I/O error, read-only, a
 * lock held too long, a lost connection), as opposed to a bad request. HTTP 503 with Retry-After; worth
 * retrying once the store recovers. Which native errors are faults is each backend's own business
 * (runtime/store/sqlite/faults.ts); callers only ever see this.
 */

import { AppError, ErrorCode } from '../errors.ts'

/** What a client is told to wait before retrying a write (the `Retry-After` header, in seconds). */
export const STORAGE_RETRY_AFTER_SECONDS = 5

/** A storage fault, named in the backend's own words: `details` is `{ [backend]: code, retryAfterSeconds }`. */
export class StorageUnavailableError extends AppError {
  override name = 'StorageUnavailableError'
  constructor(
    /** The backend (`sqlite`). */
    readonly backend: string,
    /** The backend's code (`SQLITE_FULL`). */
    readonly faultCode: string,
    /** The backend's message. */
    readonly why: string,
  ) {
    super(ErrorCode.StorageUnavailable,
      `the store cannot be written right now (${why}, ${faultCode}); nothing was changed, retry later`,
      { [backend]: faultCode, retryAfterSeconds: STORAGE_RETRY_AFTER_SECONDS }, true)
  }
}

/** Whether `e` says the store cannot be written now. */
export function isStorageUnavailable(e: unknown): e is AppError {
  return e instanceof AppError && e.code === ErrorCode.StorageUnavailable
}

/** The backend's code and words for a storage fault (`UNKNOWN` and the message for anything else). */
export function describeFault(e: unknown): { code: string; reason: string } {
  if (e instanceof StorageUnavailableError) return { code: e.faultCode, reason: e.why }
  return { code: isStorageUnavailable(e) ? e.code : 'UNKNOWN', reason: e instanceof Error ? e.message : String(e) }
}
