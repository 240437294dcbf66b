/** The storage contract (runtime/store/contract.ts) on SQLite: a temp file, each handle its own connection. */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeStoreContract } from '../contract.ts'
import { openSqliteStore, SqliteStore } from './store.ts'

describeStoreContract('sqlite', {
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'ak-contract-'))
    const path = join(dir, 'contract.db')
    return {
      open: async () => openSqliteStore(path),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    }
  },
  // `query_only` makes SQLite refuse every write with SQLITE_READONLY, as a read-only remount does.
  async refuseWrites(store, on) {
    if (!(store instanceof SqliteStore)) throw new Error('not a SQLite store')
    store.db.exec(`PRAGMA query_only = ${on ? 1 : 0}`)
  },
})
