/** Encrypted secret storage over the `secrets` table: only names, versions and timestamps are in clear. */

import type { Database } from 'bun:sqlite'
import { type Clock, systemClock } from '../clock.ts'
import { AppError, ErrorCode } from '../errors.ts'
import { decryptSecret, encryptSecret } from './crypto.ts'

/** Largest accepted value, in UTF-8 bytes. */
export const MAX_SECRET_BYTES = 64 * 1024
/** Longest accepted name. */
export const MAX_SECRET_NAME_LENGTH = 128
const NAME_PATTERN = /^[A-Z0-9_]+$/

/** What may be shown about a secret: never its value. */
export interface SecretMeta {
  name: string
  version: number
  createdAt: number
  updatedAt: number
}

interface MetaRow { name: string; version: number; created_at: number; updated_at: number }
interface SealedRow { ciphertext: Uint8Array; iv: Uint8Array; tag: Uint8Array }

/** Upper-cases a name and checks it against `^[A-Z0-9_]+$`; throws AppError(INVALID_INPUT) otherwise. */
export function normalizeSecretName(input: string): string {
  const name = typeof input === 'string' ? input.toUpperCase() : ''
  if (!NAME_PATTERN.test(name) || name.length > MAX_SECRET_NAME_LENGTH) {
    throw new AppError(ErrorCode.InvalidInput, `invalid secret name ${JSON.stringify(String(input))}: use ` +
      `letters, digits and underscores (case-insensitive, stored upper-case), at most ${MAX_SECRET_NAME_LENGTH} chars`,
    { path: 'name' })
  }
  return name
}

export interface SecretStoreOptions {
  /** Source of created/updated timestamps (ms since epoch); defaults to the system clock. */
  clock?: Clock
}

/** CRUD on encrypted secrets. The `secrets` table is created by the store migrations, not here. */
export class SecretStore {
  private readonly clock: Clock

  constructor(private readonly db: Database, private readonly key: Uint8Array, options: SecretStoreOptions = {}) {
    this.clock = options.clock ?? systemClock
  }

  /** Creates or replaces a secret; the version starts at 1 and increments on each replace. */
  set(name: string, value: string): SecretMeta {
    const n = normalizeSecretName(name)
    checkValue(value)
    const sealed = encryptSecret(this.key, n, value)
    const now = this.clock.now()
    const row = this.db.query<MetaRow, [string, Uint8Array, Uint8Array, Uint8Array, number, number]>(
      `INSERT INTO secrets (name, ciphertext, iv, tag, version, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)
       ON CONFLICT(name) DO UPDATE SET ciphertext = excluded.ciphertext, iv = excluded.iv, tag = excluded.tag,
         version = secrets.version + 1, updated_at = excluded.updated_at
       RETURNING name, version, created_at, updated_at`,
    ).get(n, sealed.ciphertext, sealed.iv, sealed.tag, now, now)
    if (!row) throw new AppError(ErrorCode.Internal, `secret ${n} was not written`)
    return toMeta(row)
  }

  /** The decrypted value; throws SECRET_NOT_FOUND naming the secret, or SECRET_INTEGRITY. */
  get(name: string): string {
    const n = normalizeSecretName(name)
    const row = this.db.query<SealedRow, [string]>('SELECT ciphertext, iv, tag FROM secrets WHERE name = ?1').get(n)
    if (!row) throw notFound(n)
    return decryptSecret(this.key, n, row)
  }

  /** Whether a secret with this name exists (no decryption). */
  has(name: string): boolean {
    const n = normalizeSecretName(name)
    return this.db.query<{ one: number }, [string]>('SELECT 1 AS one FROM secrets WHERE name = ?1').get(n) !== null
  }

  /** Metadata of every secret, by name; values are never read. */
  list(): SecretMeta[] {
    return this.db.query<MetaRow, []>('SELECT name, version, created_at, updated_at FROM secrets ORDER BY name')
      .all().map(toMeta)
  }

  /** Metadata of one secret, or undefined. */
  meta(name: string): SecretMeta | undefined {
    const n = normalizeSecretName(name)
    const row = this.db.query<MetaRow, [string]>(
      'SELECT name, version, created_at, updated_at FROM secrets WHERE name = ?1').get(n)
    return row ? toMeta(row) : undefined
  }

  /** Removes a secret; false when there was none. */
  delete(name: string): boolean {
    const n = normalizeSecretName(name)
    return this.db.query<never, [string]>('DELETE FROM secrets WHERE name = ?1').run(n).changes > 0
  }

  /**
   * Decrypts several secrets at once, keyed by normalised name, for the task actor just before a
   * plugin starts. Throws SECRET_NOT_FOUND naming the first missing one (in the given order).
   */
  resolve(names: readonly string[]): Record<string, string> {
    const wanted = [...new Set(names.map(normalizeSecretName))]
    return this.db.transaction(() => {
      const out: Record<string, string> = {}
      for (const n of wanted) out[n] = this.get(n)
      return out
    })()
  }
}

function checkValue(value: unknown): asserts value is string {
  if (typeof value !== 'string') {
    throw new AppError(ErrorCode.InvalidInput, 'secret value must be a string', { path: 'value' })
  }
  if (value.length === 0) {
    throw new AppError(ErrorCode.InvalidInput, 'secret value must not be empty', { path: 'value' })
  }
  const bytes = Buffer.byteLength(value, 'utf8')
  if (bytes > MAX_SECRET_BYTES) {
    throw new AppError(ErrorCode.InvalidInput,
      `secret value is ${bytes} bytes; the limit is ${MAX_SECRET_BYTES} bytes (64 KiB)`, { path: 'value' })
  }
}

function notFound(name: string): AppError {
  return new AppError(ErrorCode.SecretNotFound,
    `secret ${name} not found; set it with: workflow secrets set ${name}`, { name })
}

function toMeta(r: MetaRow): SecretMeta {
  return { name: r.name, version: r.version, createdAt: r.created_at, updatedAt: r.updated_at }
}
