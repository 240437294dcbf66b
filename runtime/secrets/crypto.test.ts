/** Tests for AES-256-GCM sealing: fresh IVs, tamper and wrong-key detection, name binding. */

import { describe, expect, it } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { decryptSecret, encryptSecret, IV_BYTES, type SealedSecret, TAG_BYTES } from './crypto.ts'
import { thrownAppError } from '../../test/helpers/errors.ts'

const key = randomBytes(32)


function flip(bytes: Uint8Array, at = 0): Uint8Array {
  const copy = Uint8Array.from(bytes)
  copy[at] = (copy[at] ?? 0) ^ 0x01
  return copy
}

describe('secret crypto', () => {
  it('round-trips unicode values and stores no plaintext', () => {
    const value = 'tök€n-🔑-' + 'x'.repeat(100)
    const sealed = encryptSecret(key, 'API_TOKEN', value)
    expect(sealed.iv.length).toBe(IV_BYTES)
    expect(sealed.tag.length).toBe(TAG_BYTES)
    expect(Buffer.from(sealed.ciphertext).includes(Buffer.from('xxxxxxxx'))).toBe(false)
    expect(decryptSecret(key, 'API_TOKEN', sealed)).toBe(value)
  })

  it('uses a fresh IV for each of 1,000 writes of the same value', () => {
    const ivs = new Set<string>()
    const ciphertexts = new Set<string>()
    for (let i = 0; i < 1000; i++) {
      const s = encryptSecret(key, 'SAME', 'same value')
      ivs.add(Buffer.from(s.iv).toString('hex'))
      ciphertexts.add(Buffer.from(s.ciphertext).toString('hex'))
    }
    expect(ivs.size).toBe(1000)
    expect(ciphertexts.size).toBe(1000)
  })

  it('detects a flipped byte in the ciphertext, the IV or the tag', () => {
    const sealed = encryptSecret(key, 'DB_PASSWORD', 'hunter2-hunter2')
    const variants: SealedSecret[] = [
      { ...sealed, ciphertext: flip(sealed.ciphertext, 3) },
      { ...sealed, iv: flip(sealed.iv, 11) },
      { ...sealed, tag: flip(sealed.tag, 15) },
      { ...sealed, tag: sealed.tag.subarray(0, 12) },
      { ...sealed, ciphertext: sealed.ciphertext.subarray(1) },
    ]
    for (const v of variants) {
      const e = thrownAppError(() => decryptSecret(key, 'DB_PASSWORD', v))
      expect(e.code).toBe('SECRET_INTEGRITY')
      expect(e.message).toBe('secret DB_PASSWORD failed its integrity check (wrong master key or tampered row)')
    }
  })

  it('detects a wrong master key', () => {
    const sealed = encryptSecret(key, 'API_TOKEN', 'value')
    expect(thrownAppError(() => decryptSecret(randomBytes(32), 'API_TOKEN', sealed)).code).toBe('SECRET_INTEGRITY')
  })

  it('refuses a row opened under another name', () => {
    const sealed = encryptSecret(key, 'A', 'value of a')
    expect(thrownAppError(() => decryptSecret(key, 'B', sealed)).code).toBe('SECRET_INTEGRITY')
  })

  it('rejects a key that is not 32 bytes', () => {
    expect(thrownAppError(() => encryptSecret(randomBytes(16), 'A', 'v')).code).toBe('SECRET_KEY_INVALID')
  })
})
