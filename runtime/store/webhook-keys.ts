/**
 * Webhook keys at rest: only a SHA-256 digest, a 4-character hint and the minting time are stored. A key is 24
 * random bytes (192 bits), so a fast hash is enough: a password KDF (scrypt, argon2) exists to slow the guessing
 * of low-entropy secrets, which buys nothing against 2^192, and would put its CPU cost on every unauthenticated
 * webhook call (a wrong key must cost what a right one does).
 */
import { createHash } from 'node:crypto'

/** What the store keeps about a workflow's webhook key; never the key. */
export interface WebhookKeyRecord {
  /** SHA-256 of the key's UTF-8 bytes, lower-case hex. */
  hash: string
  /** The key's first 4 characters (24 of its 192 bits), so a user can tell which key a caller holds. */
  hint: string
  createdAt: number
}

/** The stored form of `key`. */
export function webhookKeyRecord(key: string, createdAt: number): WebhookKeyRecord {
  return { hash: hashWebhookKey(key), hint: key.slice(0, 4), createdAt }
}

/** SHA-256 of `key`, hex. */
export function hashWebhookKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}
