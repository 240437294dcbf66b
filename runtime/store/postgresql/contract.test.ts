/**
 * The storage contract (runtime/store/contract.ts) on PostgreSQL: a real server (test/helpers/postgres.ts), a
 * fresh database per case, each handle its own pool. Under CI=true a missing PostgreSQL fails this file.
 */

import { SQL } from 'bun'
import { afterAll, describe, it } from 'bun:test'
import { testPostgres } from '../../../test/helpers/postgres.ts'
import { describeStoreContract } from '../contract.ts'
import type { Store } from '../store.ts'
import { openPostgresStore, PostgresStore } from './store.ts'

const pg = await testPostgres()
afterAll(async () => { await pg?.stop() })

if (!pg) {
  describe.skip('store contract: postgresql (no PostgreSQL installed; CI=true makes this a failure)', () => { it('skipped', () => {}) })
} else {
  const databases = new WeakMap<Store, string>()
  describeStoreContract('postgresql', {
    async create() {
      const db = await pg.createDatabase()
      return {
        open: async () => {
          const s = await openPostgresStore(db.url)
          databases.set(s, db.name)
          return s
        },
        cleanup: () => db.drop(),
      }
    },
    // As a failover to a read-only standby does: the database turns read-only and its sessions are cut.
    async refuseWrites(store, on) {
      if (!(store instanceof PostgresStore)) throw new Error('not a PostgreSQL store')
      const name = databases.get(store)!
      const admin = new SQL({ url: pg.adminUrl, max: 1 })
      try {
        await admin.unsafe(`ALTER DATABASE "${name}" SET default_transaction_read_only = ${on ? 'on' : 'off'}`)
        await admin.unsafe('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name])
      } finally {
        await admin.close()
      }
      // The pool notices its cut connections and opens new ones: wait until a read goes through.
      const deadline = Date.now() + 10_000
      for (;;) {
        try { await store.ping(); return } catch (e) { if (Date.now() > deadline) throw e }
      }
    },
  })
}
