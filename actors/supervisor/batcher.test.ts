import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '../../runtime/clock.ts'
import { openStore, type Store } from '../../runtime/store/sqlite/legacy.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import { CheckpointBatcher, type Committed } from './batcher.ts'

const wf: Workflow = { id: 'w', enabled: true, inputs: [], secrets: [], triggers: [], tasks: [{ id: 'a', type: 'core/log.info', needs: [], inputs: {} }] }
let dir: string
let store: Store
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ak-batch-'))
  store = openStore(join(dir, 'b.db'))
  store.transaction(() => {
    store.executions.insert({ id: 'e1', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'manual' }, now: 1 })
    store.executions.insert({ id: 'e2', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'manual' }, now: 1 })
  })
})
afterEach(() => {
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

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
    expect(store.executions.get('e1')!.state).toBe('RUNNING')
    expect(store.executions.get('e2')!.state).toBe('PENDING')
    expect(store.logs.list({ executionId: 'e1' }).items.map((l) => l.message)).toEqual(['kept'])
  })
})

/** Polls until `check` holds (a deadline, never a fixed sleep). */
async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(2)
  }
}

const quick = { retryMs: { first: 2, max: 10 } }
const line = (message: string) => ({ executionId: 'e1', ts: 1, level: 'INFO', source: 'engine', message })

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
    expect(store.executions.get('e1')!.state).toBe('SUCCESS')
    expect(store.health.status()).toEqual({ writable: true })
    expect(b.waitingForStore).toBe(false)
  })

  it('fails a creation and a fail-fast checkpoint at once with STORAGE_UNAVAILABLE, while other checkpoints wait', async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, quick)
    refuseWrites(true)
    const waiting = b.submit([{ kind: 'execution', executionId: 'e2', to: 'RUNNING' }])
    const created = b.write(() => store.executions.insert({ id: 'e3', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' }, now: 2 }), { durable: true })
    expect(await created.catch((e: unknown) => e)).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retryable: true, details: { sqlite: 'SQLITE_READONLY' } })
    const [cancel] = await b.submit([{ kind: 'execution', executionId: 'e1', to: 'CANCELLED' }], { failFast: true })
    expect(cancel).toMatchObject({ ok: false, error: { code: 'STORAGE_UNAVAILABLE' } })
    expect(store.executions.get('e3')).toBeUndefined()
    refuseWrites(false)
    expect(await waiting).toEqual([{ ok: true, changed: true }])
    expect(store.executions.get('e1')!.state).toBe('PENDING')
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
    const messages = store.logs.list({ executionId: 'e1', order: 'asc' }).items.map((l) => l.message)
    expect(messages).toEqual(['1', '2', '3', '2 log lines were dropped while the store could not be written'])
  })

  it('after stopWaiting (shutdown), answers what it cannot commit with STORAGE_UNAVAILABLE and attempts nothing more', async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, quick)
    refuseWrites(true)
    const pending = b.submit([{ kind: 'execution', executionId: 'e1', to: 'RUNNING' }])
    await until('a refused attempt', () => b.failedCommits >= 1)
    b.stopWaiting()
    expect((await pending)[0]).toMatchObject({ ok: false, error: { code: 'STORAGE_UNAVAILABLE' } })
    refuseWrites(false)
    const [later] = await b.submit([{ kind: 'execution', executionId: 'e2', to: 'RUNNING' }])
    expect(later).toMatchObject({ ok: false, error: { code: 'STORAGE_UNAVAILABLE' } })
    expect(store.executions.get('e2')!.state).toBe('PENDING') // recovery on the next start decides, not a late commit
  })

  it('commits the turn\'s creations together in one fsynced (synchronous = FULL) transaction, and NORMAL ones after', async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, quick)
    const level = () => store.db.query<{ synchronous: number }, []>('PRAGMA synchronous').get()!.synchronous
    const seen = await Promise.all(Array.from({ length: 50 }, (_, i) => b.write(() => {
      store.executions.insert({ id: `c${i}`, workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' }, now: 3 })
      return level()
    }, { durable: true })))
    expect(new Set(seen)).toEqual(new Set([2])) // FULL
    expect(b.commits).toBe(1)
    const [normal] = await Promise.all([b.write(() => level()), b.submit([{ kind: 'execution', executionId: 'e1', to: 'RUNNING' }])])
    expect(normal).toBe(1) // NORMAL
    expect(level()).toBe(1)
  })

  it('rolls back only the creation that throws (a cron tick fired already), not its neighbours', async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, quick)
    const ok = b.write(() => store.executions.insert({ id: 'k1', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' }, now: 4 }), { durable: true })
    const bad = b.write(() => {
      store.executions.insert({ id: 'k2', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' }, now: 4 })
      throw new Error('duplicate tick')
    }, { durable: true })
    await ok
    expect(await bad.catch((e: Error) => e.message)).toBe('duplicate tick')
    expect(store.executions.get('k1')).toBeDefined()
    expect(store.executions.get('k2')).toBeUndefined()
    expect(store.executions.taskRuns('k2')).toEqual([])
  })
})
