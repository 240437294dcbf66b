import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '../../runtime/clock.ts'
import type { Transition } from '../../runtime/store/checkpoint.ts'
import { openSqliteStore, type SqliteStore } from '../../runtime/store/sqlite/store.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import { createExecutions } from '../../test/helpers/store.ts'
import { CheckpointBatcher, LOG_WAIT_MAX_LINES, type Committed } from './batcher.ts'

const wf: Workflow = { id: 'w', enabled: true, inputs: [], secrets: [], triggers: [], tasks: [{ id: 'a', kind: 'plugin', type: 'core/log.info', needs: [], inputs: {} }] }
let dir: string
let store: SqliteStore
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ak-batch-'))
  store = openSqliteStore(join(dir, 'b.db'))
  await createExecutions(store, [{ id: 'e1', workflow: wf }, { id: 'e2', workflow: wf }])
})
afterEach(async () => {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

/** A creation as the supervisor submits it: all or nothing, never waiting for the store, fsynced. */
const creation = { atomic: true, failFast: true, durable: true }
const create = (id: string): Transition => ({ kind: 'create', executionId: id, workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' } })

describe('checkpoint batcher', () => {
  it('commits what arrives in one event-loop turn in one transaction, each caller getting its own result', async () => {
    const seen: Committed[] = []
    const b = new CheckpointBatcher(store, systemClock, (c) => seen.push(c))
    const [r1, r2] = await Promise.all([
      b.submit([{ kind: 'execution', executionId: 'e1', to: 'RUNNING' }]),
      b.submit([{ kind: 'execution', executionId: 'e2', to: 'SUCCESS' }]),
    ])
    b.log([{ executionId: 'e1', ts: 1, level: 'INFO', source: 'engine', message: 'x' }])
    expect(r1).toEqual([{ ok: true, changed: true }])
    expect(r2![0]).toMatchObject({ ok: false, error: { code: 'INVALID_TRANSITION' } })
    expect(b.commits).toBe(1)
    expect(seen[0]!.applied).toHaveLength(2)
  })

  it('does not fail the neighbours of a request that makes the transaction throw', async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {})
    // A trigger stands in for a request the database refuses (a constraint, a corrupt row…).
    store.db.exec("CREATE TRIGGER refuse BEFORE UPDATE ON executions WHEN NEW.id = 'e2' BEGIN SELECT RAISE(ABORT, 'refused'); END")
    const lines = [{ executionId: 'e1', ts: 1, level: 'INFO', source: 'engine', message: 'kept' }]
    const p1 = b.submit([{ kind: 'execution', executionId: 'e1', to: 'RUNNING' }])
    const p2 = b.submit([{ kind: 'execution', executionId: 'e2', to: 'RUNNING' }])
    b.log(lines)
    const [r1, r2] = await Promise.all([p1, p2])
    expect(r1).toEqual([{ ok: true, changed: true }])
    expect(r2![0]).toMatchObject({ ok: false, error: { code: 'INTERNAL' } })
    expect((await store.executions.get('e1'))!.state).toBe('RUNNING')
    expect((await store.executions.get('e2'))!.state).toBe('PENDING')
    expect((await store.logs.list({ executionId: 'e1' })).items.map((l) => l.message)).toEqual(['kept'])
  })
})

/** Polls until `check` holds (a deadline, never a fixed sleep). */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(2)
  }
}

const quick = { retryMs: { first: 2, max: 10 } }
const line = (message: string) => ({ executionId: 'e1', ts: 1, level: 'INFO', source: 'engine', message })

describe('checkpoint batcher: log lines alone', () => {
  const messages = async () => (await store.logs.list({ executionId: 'e1', order: 'asc' })).items.map((l) => l.message)

  it('wait (logWaitMs) for a checkpoint and are written in its commit, before its transition', async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, { logWaitMs: 1000 })
    b.log([line('starting')])
    await new Promise<void>((r) => setImmediate(r)) // a turn later, as a task's SUCCESS comes after its first line
    expect(b.commits).toBe(0)
    await b.submit([{ kind: 'execution', executionId: 'e1', to: 'RUNNING' }])
    expect(b.commits).toBe(1)
    expect(await messages()).toEqual(['starting'])
  })

  it('are committed by themselves once logWaitMs has passed with no checkpoint', async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, { logWaitMs: 5 })
    b.log([line('alone')])
    await until('the lines\' own commit', () => b.commits === 1)
    expect(await messages()).toEqual(['alone'])
  })

  it('go at once in a burst (LOG_WAIT_MAX_LINES queued), without waiting', async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, { logWaitMs: 60_000 })
    b.log(Array.from({ length: LOG_WAIT_MAX_LINES }, (_, i) => line(String(i))))
    await until('the burst\'s commit', () => b.commits >= 1)
    expect((await messages()).length).toBeGreaterThan(0)
  })
})

describe('checkpoint batcher on a store that cannot be written', () => {
  // `query_only` makes SQLite refuse every write with SQLITE_READONLY, as a read-only remount does.
  const refuseWrites = (on: boolean) => store.db.exec(`PRAGMA query_only = ${on ? 1 : 0}`)

  it('keeps checkpoints queued, in order, retrying with backoff, and commits them once the store accepts writes', async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, quick)
    refuseWrites(true)
    let settled = false
    const first = b.submit([{ kind: 'execution', executionId: 'e1', to: 'RUNNING' }]).finally(() => (settled = true))
    const second = b.submit([{ kind: 'execution', executionId: 'e1', to: 'SUCCESS' }])
    await until('three refused attempts', () => b.failedCommits >= 3)
    expect(settled).toBe(false) // the caller still waits: nothing may act on an uncommitted transition
    expect(b.waitingForStore).toBe(true)
    expect(store.health.status()).toMatchObject({ writable: false, code: 'SQLITE_READONLY' })
    refuseWrites(false)
    expect(await first).toEqual([{ ok: true, changed: true }])
    expect(await second).toEqual([{ ok: true, changed: true }]) // RUNNING committed before SUCCESS
    expect((await store.executions.get('e1'))!.state).toBe('SUCCESS')
    expect(store.health.status()).toEqual({ writable: true })
    expect(b.waitingForStore).toBe(false)
  })

  it('fails a creation and a fail-fast checkpoint at once with STORAGE_UNAVAILABLE, while other checkpoints wait', async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, quick)
    refuseWrites(true)
    const waiting = b.submit([{ kind: 'execution', executionId: 'e2', to: 'RUNNING' }])
    const [created] = await b.submit([create('e3')], creation)
    expect(created).toMatchObject({ ok: false, error: { code: 'STORAGE_UNAVAILABLE', retryable: true, details: { sqlite: 'SQLITE_READONLY' } } })
    const [cancel] = await b.submit([{ kind: 'execution', executionId: 'e1', to: 'CANCELLED' }], { failFast: true })
    expect(cancel).toMatchObject({ ok: false, error: { code: 'STORAGE_UNAVAILABLE' } })
    expect(await store.executions.get('e3')).toBeUndefined()
    refuseWrites(false)
    expect(await waiting).toEqual([{ ok: true, changed: true }])
    expect((await store.executions.get('e1'))!.state).toBe('PENDING')
  })

  it('buffers log lines within its bound and, once the store is back, says how many it dropped', async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, { ...quick, maxBufferedLogLines: 3 })
    refuseWrites(true)
    b.log([line('1'), line('2')])
    await until('a refused attempt', () => b.failedCommits >= 1)
    b.log([line('3'), line('4'), line('5')])
    await until('another refused attempt', () => b.failedCommits >= 2)
    refuseWrites(false)
    await b.submit([])
    const messages = (await store.logs.list({ executionId: 'e1', order: 'asc' })).items.map((l) => l.message)
    expect(messages).toEqual(['1', '2', '3', '2 log lines were dropped while the store could not be written'])
  })

  it('after stopWaiting (shutdown), answers what it cannot commit with STORAGE_UNAVAILABLE and attempts nothing more', async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, quick)
    refuseWrites(true)
    const pending = b.submit([{ kind: 'execution', executionId: 'e1', to: 'RUNNING' }])
    await until('a refused attempt', () => b.failedCommits >= 1)
    await b.stopWaiting()
    expect((await pending)[0]).toMatchObject({ ok: false, error: { code: 'STORAGE_UNAVAILABLE' } })
    refuseWrites(false)
    const [later] = await b.submit([{ kind: 'execution', executionId: 'e2', to: 'RUNNING' }])
    expect(later).toMatchObject({ ok: false, error: { code: 'STORAGE_UNAVAILABLE' } })
    expect((await store.executions.get('e2'))!.state).toBe('PENDING') // recovery on the next start decides, not a late commit
  })

  it('commits the turn\'s creations together in one fsynced (synchronous = FULL) transaction, and NORMAL ones after', async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, quick)
    const level = () => store.db.query<{ synchronous: number }, []>('PRAGMA synchronous').get()!.synchronous
    // The level each row was written at, seen from inside the commit.
    store.db.exec(`CREATE TABLE seen (what TEXT, lvl INTEGER);
      CREATE TRIGGER seen_execution AFTER INSERT ON executions BEGIN INSERT INTO seen SELECT NEW.id, synchronous FROM pragma_synchronous; END;
      CREATE TRIGGER seen_state AFTER UPDATE OF state ON executions BEGIN INSERT INTO seen SELECT NEW.id, synchronous FROM pragma_synchronous; END`)
    const seen = () => store.db.query<{ what: string; lvl: number }, []>('SELECT what, lvl FROM seen').all()
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => b.submit([create(`c${i}`)], creation)))
    expect(results.every(([r]) => r!.ok)).toBe(true)
    expect(new Set(seen().map((r) => r.lvl))).toEqual(new Set([2])) // FULL
    expect(seen()).toHaveLength(50)
    expect(b.commits).toBe(1)
    await b.submit([{ kind: 'execution', executionId: 'e1', to: 'RUNNING' }])
    expect(seen().find((r) => r.what === 'e1')!.lvl).toBe(1) // NORMAL
    expect(level()).toBe(1)
  })

  it('rolls back only the creation that is refused (a cron tick fired already), not its neighbours', async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, quick)
    const fire = (executionId: string): Transition => ({ kind: 'cronFire', workflowId: 'w', triggerIndex: 0, scheduledAt: 60_000, executionId })
    expect((await b.submit([create('k0'), fire('k0')], creation))[0]).toEqual({ ok: true, changed: true })
    const ok = b.submit([create('k1')], creation)
    const bad = b.submit([create('k2'), fire('k2')], creation)
    expect((await ok)[0]).toEqual({ ok: true, changed: true })
    expect(await bad).toMatchObject([{ ok: false, error: { code: 'CONFLICT', details: { duplicateFire: true } } }, { ok: false }])
    expect(await store.executions.get('k1')).toBeDefined()
    expect(await store.executions.get('k2')).toBeUndefined()
    expect(await store.executions.taskRuns('k2')).toEqual([])
  })
})
