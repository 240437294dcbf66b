/**
 * What is PostgreSQL's own in this backend (the shared behaviour is the contract, contract.test.ts): migrations
 * applied once under concurrent opens, numbers read back as numbers, a NUL in a log line, a first apply of one
 * workflow from two handles at once, a server that is down or goes away as STORAGE_UNAVAILABLE, and queued work
 * claimed by another engine (claimQueued: SKIP LOCKED, serialised with the creator's commits).
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { postgresBinDir, startPrivateCluster, testPostgres } from '../../../test/helpers/postgres.ts'
import type { Transition } from '../checkpoint.ts'
import type { Workflow } from '../../workflow/model.ts'
import { migrate, openPool, schemaVersion } from './db.ts'
import { MIGRATIONS } from './migrations.ts'
import { openPostgresStore } from './store.ts'

const pg = await testPostgres()
afterAll(async () => { await pg?.stop() })

const wf: Workflow = { id: 'w', enabled: true, inputs: [], secrets: [], triggers: [], tasks: [{ id: 'a', kind: 'plugin', type: 'core/log.info', needs: [], inputs: {} }] }

describe.skipIf(!pg)('PostgreSQL backend', () => {
  it('migrates a new database once even when several handles open it at once, and again is a no-op', async () => {
    const db = await pg!.createDatabase()
    const pools = Array.from({ length: 4 }, () => openPool(db.url, { max: 2 }))
    try {
      const applied = await Promise.all(pools.map((p) => migrate(p)))
      expect(applied.flat()).toEqual(MIGRATIONS.map((m) => m.version))
      expect(await migrate(pools[0]!)).toEqual([])
      expect(await schemaVersion(pools[0]!)).toBe(MIGRATIONS.at(-1)!.version)
    } finally {
      for (const p of pools) await p.close()
      await db.drop()
    }
  })

  it('migration 3 keeps an older engine\'s lease row, with no version (shown as unknown)', async () => {
    const db = await pg!.createDatabase()
    const pool = openPool(db.url, { max: 1 })
    try {
      await migrate(pool, MIGRATIONS.filter((m) => m.version <= 2))
      await pool.unsafe(`INSERT INTO engines (id, host, pid, started_at, heartbeat_at, lease_until) VALUES ('old', 'h', 7, 1, 2, 3)`)
      const s = await openPostgresStore(db.url)
      try {
        expect(await s.engines.list()).toEqual([{ id: 'old', host: 'h', pid: 7, startedAt: 1, heartbeatAt: 2, leaseUntil: 3 }])
      } finally {
        await s.close()
      }
    } finally {
      await pool.close()
      await db.drop()
    }
  })

  it('reads BIGINT times and counts back as numbers, stores a NUL in a log line as U+FFFD, and two first applies of one workflow make one', async () => {
    const db = await pg!.createDatabase()
    const a = await openPostgresStore(db.url)
    const b = await openPostgresStore(db.url)
    try {
      const at = Date.UTC(2026, 11, 2)
      const [x, y] = await Promise.all([a.workflows.upsert(wf, 'id: w', at), b.workflows.upsert(wf, 'id: w # b', at + 1)])
      expect([x.created, y.created].sort()).toEqual([false, true])
      expect((await a.workflows.get('w'))!.revision).toBe(2)
      const { logs } = await a.commit({ at, requests: [{ transitions: [{ kind: 'create', executionId: 'e', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' } }] }],
        logs: [{ executionId: 'e', ts: at, level: 'INFO', source: 'stdout', message: 'a\0b' }] })
      expect(typeof logs[0]!.id).toBe('number')
      const page = await b.logs.list({ executionId: 'e' })
      expect(page.items[0]).toMatchObject({ message: 'a\uFFFDb', ts: at })
      expect(typeof page.items[0]!.ts).toBe('number')
      expect((await b.executions.get('e'))!.createdAt).toBe(at)
      expect(await b.logs.count('e')).toBe(1)
      expect(await b.executions.countByState()).toEqual({ PENDING: 1 })
    } finally {
      await a.close()
      await b.close()
      await db.drop()
    }
  })

  it('adds a forEach of 10,000 iterations in one transition (past one statement\'s 65,535 parameters: inserted in chunks)', async () => {
    const db = await pg!.createDatabase()
    const s = await openPostgresStore(db.url)
    try {
      await s.commit({ at: 1, requests: [{ transitions: [{ kind: 'create', executionId: 'e', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' } }] }] })
      const add = await s.commit({ at: 2, requests: [{ transitions: [{ kind: 'iterations', executionId: 'e', parent: 'a', count: 10_000, taskKind: 'plugin' }] }] })
      expect(add.results[0]).toEqual([{ ok: true, changed: true }])
      const runs = await s.executions.taskRuns('e')
      expect(runs).toHaveLength(10_001)
      expect(runs.at(-1)).toMatchObject({ taskId: 'a[9999]', iteration: 9999, parentPath: 'a' })
    } finally {
      await s.close()
      await db.drop()
    }
  }, 60_000)

  it('a server that is down refuses the open with STORAGE_UNAVAILABLE; one that stops turns writes into STORAGE_UNAVAILABLE, and they work again when it is back', async () => {
    const bin = postgresBinDir()
    if (!bin) throw new Error('this case starts and stops a cluster of its own, and needs initdb')
    expect(await openPostgresStore('postgres://postgres@127.0.0.1:1/postgres').catch((e: unknown) => e)).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retryable: true })
    // A url naming no database is the config's fault, not a storage outage to wait out.
    const missing = new URL(pg!.adminUrl)
    missing.pathname = '/no_such_database'
    const refused = await openPostgresStore(missing.toString()).catch((e: unknown) => e)
    expect(refused).toMatchObject({ code: 'INVALID_CONFIG', details: { postgresql: '3D000' } })
    expect((refused as Error).message).toContain('storage.url')
    const own = await startPrivateCluster(bin)
    const store = await openPostgresStore(own.adminUrl)
    try {
      await store.workflows.upsert(wf, 'id: w', 1)
      await own.pause()
      const thrown = await store.workflows.upsert(wf, 'id: w # 2', 2).catch((e: unknown) => e)
      expect(thrown).toMatchObject({ code: 'STORAGE_UNAVAILABLE' })
      expect(store.health.status()).toMatchObject({ writable: false })
      await own.resume()
      const deadline = Date.now() + 20_000
      while (!(await store.probeWrite(Date.now()))) {
        if (Date.now() > deadline) throw new Error('writes did not come back')
        await Bun.sleep(100)
      }
      expect(store.health.status()).toEqual({ writable: true })
      expect((await store.workflows.upsert(wf, 'id: w # 3', 3)).record.revision).toBe(2)
      // An engine registered before the restart lost its proof with its session; its next heartbeat takes it again.
      await store.engines.register({ id: 'N', host: 'h', pid: 1, startedAt: 0, leaseUntil: 10_000 }, 0)
      expect(await store.engines.liveness('N')).toBe('alive')
      await own.pause()
      await own.resume()
      const back = Date.now() + 20_000
      while (!(await store.engines.renew('N', 1, 20_000).catch(() => false))) if (Date.now() > back) throw new Error('no renew after the restart')
      expect(await store.engines.liveness('N')).toBe('alive')
    } finally {
      await store.close()
      await own.stop()
    }
  }, 60_000)

  it('claimQueued takes other live engines\' old PENDING executions, oldest first, once each, audited; never a started, young, dead-owned or inline one', async () => {
    const db = await pg!.createDatabase()
    const stores = await Promise.all([0, 1, 2].map(() => openPostgresStore(db.url)))
    const [s, b, c] = stores as [typeof stores[0], typeof stores[0], typeof stores[0]]
    try {
      const now = 1_000_000
      for (const id of ['A', 'B', 'C']) await s.engines.register({ id, host: 'h', pid: 1, startedAt: 0, leaseUntil: now + 60_000 }, now)
      await s.engines.register({ id: 'DEAD', host: 'h', pid: 1, startedAt: 0, leaseUntil: now - 1 }, now - 60_000)
      const create = (id: string, revision = 1): Transition => ({ kind: 'create', executionId: id, workflow: wf, revision, inputs: {}, trigger: { type: 'api' } })
      const made = async (owner: string, at: number, ...t: Transition[]) => void await s.commit({ at, owner, requests: [{ transitions: t }] })
      // A's queue: 20 old ones (made at now - 1000 + i), one young, one started, one inline; the dead engine's one.
      for (let i = 19; i >= 0; i--) await made('A', now - 1000 + i, create(`q${String(i).padStart(2, '0')}`))
      await made('A', now, create('young'))
      await made('A', now - 1000, create('started'), { kind: 'execution', executionId: 'started', to: 'RUNNING' })
      await made('A', now - 1000, create('inline', 0))
      await made('DEAD', now - 1000, create('orphan'))
      await made('B', now - 2000, create('own'))
      const opts = (limit: number) => ({ limit, queuedBefore: now - 250, now })
      // B and C claim at once: each takes what is not its own, none is taken twice, the oldest first.
      const claim = async (x: typeof s, owner: string, limit: number) => (await x.executions.claimQueued!(owner, opts(limit))).map((r) => r.id)
      const heard: { id: string; by: string }[] = []
      const unlisten = await s.listen((w) => heard.push(...w.claimed))
      expect((await b.executions.claimQueued!('B', opts(0)))).toEqual([])
      const [byB, byC] = await Promise.all([claim(b, 'B', 8), claim(c, 'C', 8)])
      const queued = Array.from({ length: 20 }, (_, i) => `q${String(i).padStart(2, '0')}`)
      expect([byB.length, byC.length]).toEqual([8, 8])
      expect(byB).not.toContain('own') // B's own queue is B's to start
      expect(byC).toContain('own') // the oldest of all, and not C's
      expect([...byB, ...byC].sort()).toEqual(['own', ...queued.slice(0, 15)]) // no id twice
      expect(byB).toEqual([...byB].sort()) // each list oldest first
      // One claimed just now is not claimed again at once (its updated_at is the claim's): the next looks take A's rest.
      expect(await claim(b, 'B', 50)).toEqual(queued.slice(15))
      expect(await claim(c, 'C', 50)).toEqual([])
      // Each claim is announced with its claimer (the engine it came from lets it go at once).
      const deadline = Date.now() + 10_000
      while (heard.length < 21 && Date.now() < deadline) await Bun.sleep(20)
      await unlisten()
      expect(new Set(heard.map((h) => `${h.id}@${h.by}`))).toEqual(new Set([...byB.map((id) => `${id}@B`), ...byC.map((id) => `${id}@C`), ...queued.slice(15).map((id) => `${id}@B`)]))
      const owners = new Map((await s.executions.listActive()).map((e) => [e.id, [e.state, e.owner]]))
      expect(owners.get('young')).toEqual(['PENDING', 'A'])
      expect(owners.get('started')).toEqual(['RUNNING', 'A'])
      expect(owners.get('inline')).toEqual(['PENDING', 'A'])
      expect(owners.get('orphan')).toEqual(['PENDING', 'DEAD']) // a takeover's (recovery: CLAIMED), not this
      expect(owners.get('own')).toEqual(['PENDING', 'C'])
      for (const id of byC) expect(owners.get(id)).toEqual(['PENDING', 'C'])
      expect((await s.audit.forExecution(byC.at(-1)!)).filter((a) => a.type === 'CLAIMED_QUEUED').map((a) => a.data)).toEqual([{ from: 'A', to: 'C' }])
      expect((await s.audit.forExecution('own')).find((a) => a.type === 'CLAIMED_QUEUED')?.data).toEqual({ from: 'B', to: 'C' })
      // The creator's RUNNING commit of one taken from it is fenced: CONFLICT, nothing written.
      const [refused] = (await s.commit({ at: now, owner: 'A', requests: [{ transitions: [{ kind: 'execution', executionId: byB[0]!, to: 'RUNNING' }] }] })).results[0]!
      expect(refused).toMatchObject({ ok: false, error: { code: 'CONFLICT' } })
      expect((await s.executions.get(byB[0]!))!.state).toBe('PENDING')
    } finally {
      for (const x of stores) await x.close()
      await db.drop()
    }
  })
})
