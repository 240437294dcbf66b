/** Tests for SecretStore on a real SQLite file: CRUD, versions, validation, tampered rows, raw-file scan. */

import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ManualClock } from '../clock.ts'
import { openSqliteStore, type SqliteStore } from '../store/sqlite/store.ts'
import { normalizeSecretName, SecretStore } from './store.ts'
import { rejectedAppError } from '../../test/helpers/errors.ts'

let dir: string
let file: string
let sqlite: SqliteStore
const key = randomBytes(32)
let clock: ManualClock
let store: SecretStore

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ak-secrets-'))
  file = join(dir, 'state.db')
  sqlite = openSqliteStore(file)
  clock = new ManualClock(1_000)
  store = new SecretStore(sqlite.secrets, key, { clock })
})
afterEach(async () => {
  await sqlite.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('SecretStore', () => {
  it('sets, gets, lists metadata and deletes, normalising names', async () => {
    expect(await store.set('api_token', 's3cr3t-value')).toEqual({ name: 'API_TOKEN', version: 1, createdAt: 1000, updatedAt: 1000 })
    expect(await store.get('API_TOKEN')).toBe('s3cr3t-value')
    expect(await store.get('Api_Token')).toBe('s3cr3t-value')
    expect(await store.has('api_token')).toBe(true)
    expect(await store.has('OTHER')).toBe(false)
    expect(await store.list()).toEqual([{ name: 'API_TOKEN', version: 1, createdAt: 1000, updatedAt: 1000 }])
    expect(await store.delete('api_token')).toBe(true)
    expect(await store.delete('api_token')).toBe(false)
    expect(await store.list()).toEqual([])
  })

  it('increments the version and keeps createdAt on replace', async () => {
    await store.set('TOKEN', 'one-value')
    clock.set(5_000)
    expect(await store.set('token', 'two-value')).toEqual({ name: 'TOKEN', version: 2, createdAt: 1000, updatedAt: 5000 })
    expect(await store.get('TOKEN')).toBe('two-value')
    expect((await store.meta('TOKEN'))?.version).toBe(2)
  })

  it('throws SECRET_NOT_FOUND naming the secret', async () => {
    const e = await rejectedAppError(store.get('missing_one'))
    expect(e.code).toBe('SECRET_NOT_FOUND')
    expect(e.message).toContain('MISSING_ONE')
    expect(e.details).toEqual({ name: 'MISSING_ONE' })
  })

  it('resolves several secrets and names the first missing one', async () => {
    await store.set('A', 'value-a')
    await store.set('B', 'value-b')
    expect(await store.resolve(['a', 'B', 'A'])).toEqual({ A: 'value-a', B: 'value-b' })
    const e = await rejectedAppError(store.resolve(['A', 'NOPE_1', 'NOPE_2']))
    expect(e.code).toBe('SECRET_NOT_FOUND')
    expect(e.message).toContain('NOPE_1')
    expect(e.message).not.toContain('NOPE_2')
  })

  it('validates names and value sizes with INVALID_INPUT', async () => {
    for (const bad of ['', 'has-dash', 'with space', 'ümlaut', 'A'.repeat(129)]) {
      expect((await rejectedAppError(store.set(bad, 'value'))).code).toBe('INVALID_INPUT')
    }
    expect((await rejectedAppError(store.set('EMPTY', ''))).code).toBe('INVALID_INPUT')
    const tooBig = await rejectedAppError(store.set('BIG', 'x'.repeat(64 * 1024 + 1)))
    expect(tooBig.code).toBe('INVALID_INPUT')
    expect(tooBig.message).toContain('64 KiB')
    expect((await store.set('MAX', 'x'.repeat(64 * 1024))).version).toBe(1)
    expect((await rejectedAppError(store.set('MULTI', '€'.repeat(22_000)))).code).toBe('INVALID_INPUT') // 66,000 bytes
    expect(normalizeSecretName('db_pass_2')).toBe('DB_PASS_2')
  })

  it('never writes the value in clear to the database file or its WAL', async () => {
    const value = `plaintext-${randomBytes(8).toString('hex')}`
    await store.set('LEAK_CHECK', value)
    await store.set('LEAK_CHECK', value)
    sqlite.db.run('PRAGMA wal_checkpoint(PASSIVE)')
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

  it('fails with SECRET_INTEGRITY on a tampered row, a row swapped between names, or a wrong key', async () => {
    await store.set('ONE', 'value-one')
    await store.set('TWO', 'value-two')
    sqlite.db.run("UPDATE secrets SET ciphertext = (SELECT ciphertext FROM secrets WHERE name = 'ONE'), " +
      "iv = (SELECT iv FROM secrets WHERE name = 'ONE'), tag = (SELECT tag FROM secrets WHERE name = 'ONE') " +
      "WHERE name = 'TWO'")
    const swapped = await rejectedAppError(store.get('TWO'))
    expect(swapped.code).toBe('SECRET_INTEGRITY')
    expect(swapped.message).toBe('secret TWO failed its integrity check (wrong master key or tampered row)')

    const row = sqlite.db.query<{ ciphertext: Uint8Array }, []>("SELECT ciphertext FROM secrets WHERE name = 'ONE'").get()
    const tampered = Uint8Array.from(row?.ciphertext ?? [])
    tampered[0] = (tampered[0] ?? 0) ^ 0xff
    sqlite.db.query("UPDATE secrets SET ciphertext = ?1 WHERE name = 'ONE'").run(tampered)
    expect((await rejectedAppError(store.get('ONE'))).code).toBe('SECRET_INTEGRITY')
    expect((await rejectedAppError(store.resolve(['ONE']))).code).toBe('SECRET_INTEGRITY')

    await store.set('THREE', 'value-three')
    const other = new SecretStore(sqlite.secrets, randomBytes(32), { clock })
    expect((await rejectedAppError(other.get('THREE'))).code).toBe('SECRET_INTEGRITY')
  })

  it('survives closing and reopening the database file', async () => {
    await store.set('PERSISTED', 'still-here')
    await sqlite.close()
    sqlite = openSqliteStore(file)
    expect(await new SecretStore(sqlite.secrets, key).get('PERSISTED')).toBe('still-here')
  })
})
