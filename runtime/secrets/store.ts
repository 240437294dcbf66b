/**
 * Encrypted secrets over the store's SecretRepository: values are sealed (AES-256-GCM) and opened here, in the
 * engine, so the store (any backend) only ever holds names, versions, timestamps and sealed bytes.
 */

import { type Clock, systemClock } from '../clock.ts'
import { AppError, ErrorCode } from '../errors.ts'
import type { SecretRepository } from '../store/store.ts'
import type { SecretMeta } from '../store/types.ts'
import { decryptSecret, encryptSecret } from './crypto.ts'

/** Largest accepted value, in UTF-8 bytes. */
export const MAX_SECRET_BYTES = 64 * 1024
/** Longest accepted name. */
export const MAX_SECRET_NAME_LENGTH = 128
const NAME_PATTERN = /^[A-Z0-9_]+$/

export type { SecretMeta } from '../store/types.ts'

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

/** CRUD on encrypted secrets. */
export class SecretStore {
  private readonly clock: Clock

  constructor(private readonly repo: SecretRepository, private readonly key: Uint8Array, options: SecretStoreOptions = {}) {
    this.clock = options.clock ?? systemClock
  }

  /** Creates or replaces a secret; the version starts at 1 and increments on each replace. */
  async set(name: string, value: string): Promise<SecretMeta> {
    const n = normalizeSecretName(name)
    checkValue(value)
    return this.repo.put(n, encryptSecret(this.key, n, value), this.clock.now())
  }

  /** The decrypted value; rejects with SECRET_NOT_FOUND naming the secret, or SECRET_INTEGRITY. */
  async get(name: string): Promise<string> {
    const n = normalizeSecretName(name)
    const sealed = await this.repo.sealed(n)
    if (!sealed) throw notFound(n)
    return decryptSecret(this.key, n, sealed)
  }

  /** Whether a secret with this name exists (no decryption). */
  async has(name: string): Promise<boolean> {
    return (await this.repo.meta(normalizeSecretName(name))) !== undefined
  }

  /** Metadata of every secret, by name; values are never read. */
  list(): Promise<SecretMeta[]> {
    return this.repo.list()
  }

  /** Metadata of one secret, or undefined. */
  meta(name: string): Promise<SecretMeta | undefined> {
    return this.repo.meta(normalizeSecretName(name))
  }

  /** Removes a secret; false when there was none. */
  delete(name: string): Promise<boolean> {
    return this.repo.delete(normalizeSecretName(name))
  }

  /**
   * Decrypts several secrets at once (one consistent read), keyed by normalised name, for the task actor just
   * before a plugin starts. Rejects with SECRET_NOT_FOUND naming the first missing one (in the given order).
   */
  async resolve(names: readonly string[]): Promise<Record<string, string>> {
    const wanted = [...new Set(names.map(normalizeSecretName))]
    const sealed = await this.repo.sealedMany(wanted)
    const out: Record<string, string> = {}
    for (const n of wanted) {
      const s = sealed.get(n)
      if (!s) throw notFound(n)
      out[n] = decryptSecret(this.key, n, s)
    }
    return out
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
