/** Tests for SecretStore on a real SQLite file: CRUD, versions, validation, tampered rows, raw-file scan. */

import { Database } from 'bun:sqlite'
import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ManualClock } from '../clock.ts'
import { normalizeSecretName, SecretStore } from './store.ts'
import { thrownAppError } from '../../test/helpers/errors.ts'

const DDL = 'CREATE TABLE secrets (name TEXT PRIMARY KEY, ciphertext BLOB NOT NULL, iv BLOB NOT NULL, tag BLOB NOT NULL, ' +
  'version INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)'

let dir: string
let file: string
let db: Database
const key = randomBytes(32)
let clock: ManualClock
let store: SecretStore

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ak-secrets-'))
  file = join(dir, 'state.db')
  db = new Database(file, { create: true, strict: true })
  db.run('PRAGMA journal_mode = WAL')
  db.run(DDL)
  clock = new ManualClock(1_000)
  store = new SecretStore(db, key, { clock })
})
afterEach(() => {
  db.close()
  rmSync(dir, { recursive: true, force: true })
})


describe('SecretStore', () => {
  it('sets, gets, lists metadata and deletes, normalising names', () => {
    expect(store.set('api_token', 's3cr3t-value')).toEqual({ name: 'API_TOKEN', version: 1, createdAt: 1000, updatedAt: 1000 })
    expect(store.get('API_TOKEN')).toBe('s3cr3t-value')
    expect(store.get('Api_Token')).toBe('s3cr3t-value')
    expect(store.has('api_token')).toBe(true)
    expect(store.has('OTHER')).toBe(false)
    expect(store.list()).toEqual([{ name: 'API_TOKEN', version: 1, createdAt: 1000, updatedAt: 1000 }])
    expect(store.delete('api_token')).toBe(true)
    expect(store.delete('api_token')).toBe(false)
    expect(store.list()).toEqual([])
  })

  it('increments the version and keeps createdAt on replace', () => {
    store.set('TOKEN', 'one-value')
    clock.set(5_000)
    expect(store.set('token', 'two-value')).toEqual({ name: 'TOKEN', version: 2, createdAt: 1000, updatedAt: 5000 })
    expect(store.get('TOKEN')).toBe('two-value')
    expect(store.meta('TOKEN')?.version).toBe(2)
  })

  it('throws SECRET_NOT_FOUND naming the secret', () => {
    const e = thrownAppError(() => store.get('missing_one'))
    expect(e.code).toBe('SECRET_NOT_FOUND')
    expect(e.message).toContain('MISSING_ONE')
    expect(e.details).toEqual({ name: 'MISSING_ONE' })
  })

  it('resolves several secrets and names the first missing one', () => {
    store.set('A', 'value-a')
    store.set('B', 'value-b')
    expect(store.resolve(['a', 'B', 'A'])).toEqual({ A: 'value-a', B: 'value-b' })
    const e = thrownAppError(() => store.resolve(['A', 'NOPE_1', 'NOPE_2']))
    expect(e.code).toBe('SECRET_NOT_FOUND')
    expect(e.message).toContain('NOPE_1')
    expect(e.message).not.toContain('NOPE_2')
  })

  it('validates names and value sizes with INVALID_INPUT', () => {
    for (const bad of ['', 'has-dash', 'with space', 'ümlaut', 'A'.repeat(129)]) {
      expect(thrownAppError(() => store.set(bad, 'value')).code).toBe('INVALID_INPUT')
    }
    expect(thrownAppError(() => store.set('EMPTY', '')).code).toBe('INVALID_INPUT')
    const tooBig = thrownAppError(() => store.set('BIG', 'x'.repeat(64 * 1024 + 1)))
    expect(tooBig.code).toBe('INVALID_INPUT')
    expect(tooBig.message).toContain('64 KiB')
    expect(store.set('MAX', 'x'.repeat(64 * 1024)).version).toBe(1)
    expect(thrownAppError(() => store.set('MULTI', '€'.repeat(22_000))).code).toBe('INVALID_INPUT') // 66,000 bytes
    expect(normalizeSecretName('db_pass_2')).toBe('DB_PASS_2')
  })

  it('never writes the value in clear to the database file or its WAL', () => {
    const value = `plaintext-${randomBytes(8).toString('hex')}`
    store.set('LEAK_CHECK', value)
    store.set('LEAK_CHECK', value)
    db.run('PRAGMA wal_checkpoint(PASSIVE)')
    for (const f of [file, `${file}-wal`]) {
      let bytes: Buffer
      try {
        bytes = readFileSync(f)
      } catch {
        continue
      }
      expect(bytes.includes(Buffer.from(value))).toBe(false)
    }
    expect(readFileSync(file).includes(Buffer.from('LEAK_CHECK'))).toBe(true)
  })

  it('fails with SECRET_INTEGRITY on a tampered row, a row swapped between names, or a wrong key', () => {
    store.set('ONE', 'value-one')
    store.set('TWO', 'value-two')
    db.run("UPDATE secrets SET ciphertext = (SELECT ciphertext FROM secrets WHERE name = 'ONE'), " +
      "iv = (SELECT iv FROM secrets WHERE name = 'ONE'), tag = (SELECT tag FROM secrets WHERE name = 'ONE') " +
      "WHERE name = 'TWO'")
    const swapped = thrownAppError(() => store.get('TWO'))
    expect(swapped.code).toBe('SECRET_INTEGRITY')
    expect(swapped.message).toBe('secret TWO failed its integrity check (wrong master key or tampered row)')

    const row = db.query<{ ciphertext: Uint8Array }, []>("SELECT ciphertext FROM secrets WHERE name = 'ONE'").get()
    const tampered = Uint8Array.from(row?.ciphertext ?? [])
    tampered[0] = (tampered[0] ?? 0) ^ 0xff
    db.query("UPDATE secrets SET ciphertext = ?1 WHERE name = 'ONE'").run(tampered)
    expect(thrownAppError(() => store.get('ONE')).code).toBe('SECRET_INTEGRITY')
    expect(thrownAppError(() => store.resolve(['ONE'])).code).toBe('SECRET_INTEGRITY')

    store.set('THREE', 'value-three')
    const other = new SecretStore(db, randomBytes(32), { clock })
    expect(thrownAppError(() => other.get('THREE')).code).toBe('SECRET_INTEGRITY')
  })

  it('survives closing and reopening the database file', () => {
    store.set('PERSISTED', 'still-here')
    db.close()
    db = new Database(file) // not strict: the store must work with either setting
    expect(new SecretStore(db, key).get('PERSISTED')).toBe('still-here')
  })
})
