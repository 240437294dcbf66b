/**
 * PostgreSQL's storage faults: the errors that say the database cannot be written right now (the connection is
 * gone or refused, the server shuts down or is a read-only standby, disk full, I/O error), as opposed to a bad
 * statement. They become the backend-neutral STORAGE_UNAVAILABLE (runtime/store/unavailable.ts) before they
 * leave this backend.
 */

import { AppError, ErrorCode } from '../../errors.ts'
import { StorageUnavailableError } from '../unavailable.ts'

/**
 * SQLSTATEs that are faults of the storage: class 08 (connection exception), 53 (insufficient resources: disk
 * full, out of memory, too many connections), 57P01-57P03 (admin/crash shutdown, cannot connect now), 58 (system
 * error: I/O), 25006 (read-only transaction: a standby, or `default_transaction_read_only`), 55P03 (lock not
 * available), 40001/40P01 are not: they are retried by the caller of a transaction, not a broken store.
 */
const SQLSTATE_FAULT = /^(08|53|58)|^57P0[123]$|^25006$|^55P03$/
/** Bun's own codes for a connection it could not make or lost. */
const BUN_FAULT = /^ERR_POSTGRES_(CONNECTION_CLOSED|CONNECTION_REFUSED|CONNECTION_TIMEOUT|IDLE_TIMEOUT|LIFETIME_TIMEOUT|TLS|AUTHENTICATION_FAILED|SOCKET)/

/** The code of `e` when it is a raw storage fault (its SQLSTATE, or Bun's code); undefined for anything else. */
export function pgFaultCode(e: unknown): string | undefined {
  if (e === null || typeof e !== 'object') return undefined
  const { code, errno } = e as { code?: unknown; errno?: unknown }
  if (typeof errno === 'string' && SQLSTATE_FAULT.test(errno)) return errno
  if (typeof code === 'string' && BUN_FAULT.test(code)) return code
  // Refused before any protocol (the server is down): Node-style socket codes.
  if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH)$/.test(code)) return code
  return undefined
}

export const isPgFault = (e: unknown): boolean => pgFaultCode(e) !== undefined

/** STORAGE_UNAVAILABLE for a storage fault, naming PostgreSQL's own code and words; `e` itself otherwise. */
export function translatePgFault(e: unknown): unknown {
  const code = pgFaultCode(e)
  if (!code) return e
  return new StorageUnavailableError('postgresql', code, e instanceof Error ? e.message : String(e))
}

/**
 * At open: what the server says about the url itself — no such database (3D000), the login refused (class 28) — is
 * the config's fault, INVALID_CONFIG naming `storage.url` (never its password); a fault as above; anything else as is.
 */
export function translateOpenError(e: unknown): unknown {
  const errno = (e as { errno?: unknown } | null)?.errno
  if (typeof errno === 'string' && (errno === '3D000' || errno.startsWith('28'))) {
    const why = e instanceof Error ? e.message.replace(/^ERR_POSTGRES_SERVER_ERROR: /, '') : String(e)
    return new AppError(ErrorCode.InvalidConfig, `storage.url: the PostgreSQL server refused it: ${why} (${errno})`, { issues: [{ path: 'storage.url', message: why }], postgresql: errno })
  }
  return translatePgFault(e)
}
