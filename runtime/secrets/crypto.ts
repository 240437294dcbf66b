/** AES-256-GCM sealing of one secret value, bound to its name so a row moved to another name fails to open. */

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { AppError, ErrorCode } from '../errors.ts'

const ALGORITHM = 'aes-256-gcm'
/** GCM's standard nonce size; a fresh random one per write. */
export const IV_BYTES = 12
/** Full-length tag; shorter tags are refused on decrypt. */
export const TAG_BYTES = 16
const KEY_BYTES = 32
// Versioned prefix so a future format can never be confused with this one.
const AAD_PREFIX = 'autokestra/secret/v1\0'

/** What is stored for a secret: all three parts are needed, and verified, to get the value back. */
export interface SealedSecret {
  ciphertext: Uint8Array
  iv: Uint8Array
  tag: Uint8Array
}

/** Encrypts `value` for the secret `name` with a fresh random IV. */
export function encryptSecret(key: Uint8Array, name: string, value: string): SealedSecret {
  checkKey(key)
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(aadFor(name))
  const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()])
  return { ciphertext, iv, tag: cipher.getAuthTag() }
}

/**
 * Decrypts and verifies a sealed value; a wrong key, a changed byte or a row stored under another name
 * throws AppError(SECRET_INTEGRITY) — never returns garbage.
 */
export function decryptSecret(key: Uint8Array, name: string, sealed: SealedSecret): string {
  checkKey(key)
  if (sealed.iv.length !== IV_BYTES || sealed.tag.length !== TAG_BYTES) throw integrityError(name)
  try {
    const decipher = createDecipheriv(ALGORITHM, key, sealed.iv, { authTagLength: TAG_BYTES })
    decipher.setAAD(aadFor(name))
    decipher.setAuthTag(sealed.tag)
    const plain = Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()])
    return plain.toString('utf8')
  } catch {
    throw integrityError(name)
  }
}

function aadFor(name: string): Buffer {
  return Buffer.from(AAD_PREFIX + name, 'utf8')
}

function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_BYTES) {
    throw new AppError(ErrorCode.SecretKeyInvalid, `secret master key must be ${KEY_BYTES} bytes, got ${key.length}`)
  }
}

function integrityError(name: string): AppError {
  return new AppError(ErrorCode.SecretIntegrity,
    `secret ${name} failed its integrity check (wrong master key or tampered row)`, { name })
}
