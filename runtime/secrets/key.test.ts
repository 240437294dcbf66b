/** Tests for master-key loading: env forms, key-file generation and permissions, clear errors. */

import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
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

  // Issue 10, finding 10: the key file's owner was never checked, so a 0600 key planted by another user in a
  // shared data dir was adopted (its author knows the key). Root can chown to play "another user".
  it.skipIf(process.geteuid?.() !== 0)('refuses a 0600 key file owned by another user, saying how to fix it', () => {
    const keyFile = join(dir, 'secret.key')
    const planted = randomBytes(32).toString('base64')
    writeFileSync(keyFile, planted, { mode: 0o600 })
    chownSync(keyFile, 65534, 65534)
    const e = codeOf(() => loadMasterKey({ env: {}, keyFile }))
    expect(e.code).toBe('SECRET_KEY_INVALID')
    expect(e.message).toContain('owned by uid 65534, but the engine runs as uid 0')
    expect(e.message).toContain(`chown 0 ${keyFile}`)
    expect(readFileSync(keyFile, 'utf8')).toBe(planted) // refused, not replaced
  })

  it('refuses a FIFO, a directory or a huge file in place of the key, without hanging', () => {
    const fifo = join(dir, 'fifo.key')
    expect(Bun.spawnSync(['mkfifo', '-m', '600', fifo]).exitCode).toBe(0)
    expect(codeOf(() => loadMasterKey({ env: {}, keyFile: fifo })).message).toContain('not a regular file')
    const sub = join(dir, 'dir.key')
    mkdirSync(sub, { mode: 0o700 })
    expect(codeOf(() => loadMasterKey({ env: {}, keyFile: sub })).message).toContain('not a regular file')
    const big = join(dir, 'big.key')
    writeFileSync(big, 'x'.repeat(100_000), { mode: 0o600 })
    expect(codeOf(() => loadMasterKey({ env: {}, keyFile: big })).message).toContain('not a key file')
  })

  it('writes a generated key file 0600 whatever the umask', () => {
    const before = process.umask(0)
    try {
      const keyFile = join(dir, 'umask', 'secret.key')
      loadMasterKey({ env: {}, keyFile })
      expect(statSync(keyFile).mode & 0o777).toBe(0o600)
      expect(statSync(join(dir, 'umask')).mode & 0o777).toBe(0o700)
    } finally {
      process.umask(before)
    }
  })
})
