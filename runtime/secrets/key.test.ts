/** Tests for master-key loading: env forms, key-file generation and permissions, clear errors. */

import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AppError } from '../errors.ts'
import { loadMasterKey, parseMasterKey, resolveMasterKey } from './key.ts'

let dir: string
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'ak-key-')) })
afterEach(() => rmSync(dir, { recursive: true, force: true }))

function codeOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn()
  } catch (e) {
    if (e instanceof AppError) return { code: e.code, message: e.message }
    throw e
  }
  throw new Error('expected an AppError')
}

describe('loadMasterKey', () => {
  it('reads a base64 key from AUTOKESTRA_SECRET_KEY without touching the key file', () => {
    const raw = randomBytes(32)
    const keyFile = join(dir, 'secret.key')
    const key = loadMasterKey({ env: { AUTOKESTRA_SECRET_KEY: raw.toString('base64') }, keyFile })
    expect(key.equals(raw)).toBe(true)
    expect(() => statSync(keyFile)).toThrow()
  })

  it('reads a hex key and a url-safe base64 key from the env', () => {
    const raw = randomBytes(32)
    const keyFile = join(dir, 'secret.key')
    expect(loadMasterKey({ env: { AUTOKESTRA_SECRET_KEY: raw.toString('hex') }, keyFile }).equals(raw)).toBe(true)
    expect(loadMasterKey({ env: { AUTOKESTRA_SECRET_KEY: raw.toString('base64url') }, keyFile }).equals(raw)).toBe(true)
  })

  it('rejects a malformed env key and says how to generate one', () => {
    const keyFile = join(dir, 'secret.key')
    for (const bad of ['short', randomBytes(16).toString('base64'), randomBytes(31).toString('hex'), 'z'.repeat(64)]) {
      const e = codeOf(() => loadMasterKey({ env: { AUTOKESTRA_SECRET_KEY: bad }, keyFile }))
      expect(e.code).toBe('SECRET_KEY_INVALID')
      expect(e.message).toContain('AUTOKESTRA_SECRET_KEY')
      expect(e.message).toContain('openssl rand -base64 32')
      expect(e.message).not.toContain(bad)
    }
  })

  it('rejects an env key that is set but empty instead of silently using a file key', () => {
    const keyFile = join(dir, 'secret.key')
    const e = codeOf(() => loadMasterKey({ env: { AUTOKESTRA_SECRET_KEY: ' ' }, keyFile }))
    expect(e.code).toBe('SECRET_KEY_INVALID')
    expect(e.message).toContain(keyFile)
  })

  it('generates a 0600 key file on first use (creating its directory) and reuses it', () => {
    const keyFile = join(dir, 'data', 'nested', 'secret.key')
    const first = resolveMasterKey({ env: {}, keyFile })
    expect(first.source).toBe('generated')
    expect(first.key.length).toBe(32)
    expect(statSync(keyFile).mode & 0o777).toBe(0o600)
    expect(parseMasterKey(readFileSync(keyFile, 'utf8'))?.equals(first.key)).toBe(true)
    const second = resolveMasterKey({ env: {}, keyFile })
    expect(second.source).toBe('file')
    expect(second.key.equals(first.key)).toBe(true)
  })

  it('reports a missing key file as SECRET_KEY_MISSING when generation is off', () => {
    const keyFile = join(dir, 'secret.key')
    const e = codeOf(() => loadMasterKey({ env: {}, keyFile, generate: false }))
    expect(e.code).toBe('SECRET_KEY_MISSING')
    expect(e.message).toContain(keyFile)
    expect(e.message).toContain('AUTOKESTRA_SECRET_KEY')
    expect(e.message).toContain('openssl rand -base64 32')
  })

  it('reports SECRET_KEY_MISSING when the key file cannot be created', () => {
    const blocker = join(dir, 'not-a-dir')
    writeFileSync(blocker, 'x')
    const e = codeOf(() => loadMasterKey({ env: {}, keyFile: join(blocker, 'secret.key') }))
    expect(e.code).toBe('SECRET_KEY_MISSING')
  })

  it('refuses a key file readable by group or others', () => {
    const keyFile = join(dir, 'secret.key')
    writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 })
    chmodSync(keyFile, 0o644)
    const e = codeOf(() => loadMasterKey({ env: {}, keyFile }))
    expect(e.code).toBe('SECRET_KEY_INVALID')
    expect(e.message).toContain(`chmod 600 ${keyFile}`)
  })

  it('refuses a key file whose content is not a 256-bit key, and never overwrites it', () => {
    const keyFile = join(dir, 'secret.key')
    writeFileSync(keyFile, 'not a key\n', { mode: 0o600 })
    const e = codeOf(() => loadMasterKey({ env: {}, keyFile }))
    expect(e.code).toBe('SECRET_KEY_INVALID')
    expect(e.message).toContain(keyFile)
    expect(readFileSync(keyFile, 'utf8')).toBe('not a key\n')
  })

  it('accepts a hand-written hex key file', () => {
    const raw = randomBytes(32)
    const keyFile = join(dir, 'secret.key')
    writeFileSync(keyFile, `${raw.toString('hex')}\n`, { mode: 0o600 })
    expect(loadMasterKey({ env: {}, keyFile }).equals(raw)).toBe(true)
  })
})
