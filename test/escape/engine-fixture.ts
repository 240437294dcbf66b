/** Stand-ins for what a hostile plugin wants: an engine data dir (SQLite db, secret key), engine env, an engine API port. */

import { Database } from 'bun:sqlite'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PermissionDenial, RunOutcome } from '../../sandbox/runner.ts'
import { detectDenialLine } from '../../sandbox/sdk/detect.ts'

export const DB_SECRET = 'DB-SECRET-7f3a9c'
export const KEY_SECRET = 'KEY-SECRET-51be02'
export const ENV_SECRET = 'ENV-SECRET-c0ffee'
export const API_SECRET = 'ENGINE-API-SECRET-9d1'

export interface EngineFixture {
  dataDir: string
  dbPath: string
  keyPath: string
  /** A readable file outside every default grant, for the positive filesystem.read case. */
  grantedFile: string
  /** Port of a TCP server standing in for the engine API; it greets with API_SECRET. */
  apiPort: number
  /** Port of a second server: the positive case's grant must not reach it. */
  otherPort: number
  close(): void
}

/** Starts the stand-ins. Files are world-readable on purpose: only the sandbox, not file modes, may stop the plugin. */
export function startEngineFixture(): EngineFixture {
  const dataDir = mkdtempSync(join(tmpdir(), 'ak-engine-'))
  chmodSync(dataDir, 0o755)
  const dbPath = join(dataDir, 'autokestra.db')
  const db = new Database(dbPath)
  db.run('CREATE TABLE secrets (name TEXT, value TEXT)')
  db.run('INSERT INTO secrets VALUES (?, ?)', ['token', DB_SECRET])
  db.close()
  chmodSync(dbPath, 0o644)
  const keyPath = join(dataDir, 'secret.key')
  writeFileSync(keyPath, KEY_SECRET, { mode: 0o644 })
  const grantedFile = join(dataDir, 'granted.txt')
  writeFileSync(grantedFile, 'granted content', { mode: 0o644 })
  process.env.AUTOKESTRA_TEST_ENGINE_SECRET = ENV_SECRET
  const greet = (text: string) => Bun.listen({
    hostname: '127.0.0.1', port: 0,
    socket: { open(s) { s.write(`${text}\n`) }, data() {} },
  })
  const api = greet(API_SECRET)
  const other = greet('OTHER-SERVER')
  return {
    dataDir, dbPath, keyPath, grantedFile, apiPort: api.port, otherPort: other.port,
    close() { api.stop(true); other.stop(true); rmSync(dataDir, { recursive: true, force: true }) },
  }
}

/** The denial a run reports: the runner's, else what the plugin's failure message says. */
export function denialOf(o: RunOutcome): PermissionDenial | undefined {
  if (o.ok) return undefined
  return o.denial ?? detectDenialLine(o.error.message)
}
