/**
 * Issue 10, finding 10 (files at rest) against the real server bootstrap and CLI, with real files: the data dir
 * is 0700 and the database, its WAL and SHM, the pid file, the key file and the daemon's log are 0600 whatever
 * the umask; wider modes found at start are narrowed with a WARN; a data dir, key or database file another user
 * owns is refused with an error that says how to fix it. As root, chown plays "another user" (uid 65534).
 */
import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createConsola } from 'consola'
import { startServer } from '../../api/server.ts'
import { AppError } from '../../runtime/errors.ts'
import { generateMasterKey } from '../../runtime/secrets/key.ts'
import { cleanEnv, cli, freePort } from '../server-helpers.ts'

const isRoot = process.geteuid?.() === 0
const OTHER = 65534
let root: string
let data: string
let config: string
let port: number
let warnings: string[]

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ak-at-rest-'))
  data = join(root, 'data')
  port = freePort()
  config = join(root, 'config.yaml')
  writeFileSync(config, `server:\n  host: 127.0.0.1\n  port: ${port}\n  apiKeys: [at-rest-key-0123456789]\nstorage:\n  path: ./data/state.db\n`)
  warnings = []
})
afterEach(() => rmSync(root, { recursive: true, force: true }))

const mode = (p: string) => statSync(p).mode & 0o777
const logger = () => createConsola({ level: 3, reporters: [{ log: (o) => { if (o.type === 'warn') warnings.push(o.args.map(String).join(' ')) } }] })
const start = () => startServer({ configFile: config, env: { AUTOKESTRA_DISABLE_RUNTIME: '1' }, logger: logger() })

async function refusal(): Promise<AppError> {
  try {
    const s = await start()
    await s.stop()
  } catch (e) {
    if (e instanceof AppError) return e
    throw e
  }
  throw new Error('the server started')
}

/** Runs `fn` with umask 0, so any mode the code leaves to the umask shows as world-readable. */
async function withUmask0<T>(fn: () => Promise<T>): Promise<T> {
  const before = process.umask(0)
  try {
    return await fn()
  } finally {
    process.umask(before)
  }
}

describe('finding 10: files at rest', () => {
  it('creates the data dir 0700 and every file in it 0600, even with umask 0', async () => {
    const s = await withUmask0(start)
    try {
      // A write, so the WAL and SHM exist.
      const res = await fetch(`${s.url}/api/v1/secrets/A`, { method: 'PUT', headers: { 'x-api-key': 'at-rest-key-0123456789', 'content-type': 'application/json' }, body: '{"value":"abc"}' })
      expect(res.status).toBe(204)
      expect(mode(data)).toBe(0o700)
      const files = readdirSync(data).sort()
      expect(files).toEqual(expect.arrayContaining(['autokestra.pid', 'secret.key', 'state.db', 'state.db-shm', 'state.db-wal']))
      for (const f of files) expect([f, mode(join(data, f))]).toEqual([f, 0o600])
    } finally {
      await s.stop()
    }
    expect(warnings.filter((w) => w.includes('open to other users'))).toEqual([])
  })

  it('narrows a data dir, database, WAL, SHM, pid file and log left open to others, with a WARN for each', async () => {
    const first = await start()
    await first.stop()
    writeFileSync(join(data, 'server.log'), 'old log\n')
    writeFileSync(join(data, 'state.db-wal'), '')
    writeFileSync(join(data, 'state.db-shm'), '')
    writeFileSync(join(data, 'autokestra.pid'), '{}')
    for (const f of ['state.db', 'state.db-wal', 'state.db-shm', 'autokestra.pid', 'server.log']) chmodSync(join(data, f), 0o644)
    chmodSync(data, 0o755)
    const s = await start()
    try {
      expect(mode(data)).toBe(0o700)
      for (const f of ['state.db', 'state.db-wal', 'state.db-shm', 'autokestra.pid', 'server.log']) expect([f, mode(join(data, f))]).toEqual([f, 0o600])
    } finally {
      await s.stop()
    }
    const joined = warnings.join('\n')
    for (const what of ['data directory', `database ${join(data, 'state.db')}`, 'state.db-wal', 'state.db-shm', 'pid file', 'server log']) expect(joined).toContain(what)
    expect(joined).toContain('was open to other users (mode 0644); set to 0600')
  })

  it.skipIf(!isRoot)('refuses a 0600 key file another user planted in the data dir, and says how to fix it', async () => {
    mkdirSync(data, { mode: 0o700 })
    writeFileSync(join(data, 'secret.key'), `${generateMasterKey()}\n`, { mode: 0o600 })
    chownSync(join(data, 'secret.key'), OTHER, OTHER)
    const e = await refusal()
    expect(e.code).toBe('SECRET_KEY_INVALID')
    expect(e.message).toContain(`owned by uid ${OTHER}`)
    expect(e.message).toContain('chown 0')
    expect(existsSync(join(data, 'autokestra.pid'))).toBe(false) // nothing listened
  })

  it.skipIf(!isRoot)('refuses a data dir another user owns, and creates nothing in it', async () => {
    mkdirSync(data, { mode: 0o700 })
    chownSync(data, OTHER, OTHER)
    const e = await refusal()
    expect(e.code).toBe('INVALID_CONFIG')
    expect(e.message).toContain(`data directory ${data} is owned by uid ${OTHER}`)
    expect(e.message).toContain(`chown 0 ${data}`)
    expect(readdirSync(data)).toEqual([])
  })

  it.skipIf(!isRoot)('refuses a database WAL another user planted (SQLite would replay it)', async () => {
    mkdirSync(data, { mode: 0o700 })
    writeFileSync(join(data, 'state.db-wal'), 'planted', { mode: 0o600 })
    chownSync(join(data, 'state.db-wal'), OTHER, OTHER)
    const e = await refusal()
    expect(e.code).toBe('INVALID_CONFIG')
    expect(e.message).toContain(`database file ${join(data, 'state.db-wal')} is owned by uid ${OTHER}`)
  })

  it('refuses a world-writable data dir such as a shared /tmp', async () => {
    mkdirSync(data)
    chmodSync(data, 0o1777)
    const e = await refusal()
    expect(e.code).toBe('INVALID_CONFIG')
    expect(e.message).toContain('writable by every user')
    expect(readdirSync(data)).toEqual([])
  })

  it('server start --detach writes its log 0600 whatever the umask', async () => {
    const env = cleanEnv({ AUTOKESTRA_DISABLE_RUNTIME: '1' })
    const started = await withUmask0(() => cli(['server', 'start', '--detach', '-c', config, '--json'], { env }))
    try {
      expect(started.code).toBe(0)
      expect(mode(join(data, 'server.log'))).toBe(0o600)
      expect(mode(join(data, 'autokestra.pid'))).toBe(0o600)
      expect(mode(data)).toBe(0o700)
    } finally {
      expect((await cli(['server', 'stop', '-c', config, '--json'], { env })).code).toBe(0)
    }
  }, 30_000)
})
