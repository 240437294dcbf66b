/**
 * The dispatcher (dispatcher.ts) when the store cannot be read for an execution it was asked to dispatch (a database
 * outage, on a real SQLite store whose read is made to fail once): the execution is released and queued again later,
 * never failed — a FAILED commit would only land once the store is back, and fail an execution that did nothing wrong.
 * And when another live engine holds an execution queued here (it took it: queue-claims.ts): its commit is refused
 * (fenced), and it is let go, never handed to a worker — whether it is still PENDING or already RUNNING there.
 */
import { afterEach, describe, expect, it } from 'bun:test'
import type { Transition } from '../../runtime/store/checkpoint.ts'
import { openSqliteStore, type SqliteStore } from '../../runtime/store/sqlite/store.ts'
import { StorageUnavailableError } from '../../runtime/store/unavailable.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import { Dispatcher } from './dispatcher.ts'
import type { WorkerPool } from './workers.ts'

const wf: Workflow = { id: 'w', enabled: true, inputs: [], secrets: [], triggers: [], tasks: [{ id: 'a', kind: 'plugin', type: 'core/log.info', needs: [], inputs: {} }] }

describe('dispatch during a store outage', () => {
  let store: SqliteStore
  afterEach(() => store.close())

  it('queues the execution again instead of failing it', async () => {
    store = openSqliteStore(':memory:')
    await store.commit({ at: 1, requests: [{ transitions: [{ kind: 'create', executionId: 'x', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' } }] }] })
    const get = store.executions.get.bind(store.executions)
    let outage = true
    store.executions.get = async (id) => {
      if (outage) throw new StorageUnavailableError('sqlite', 'SQLITE_IOERR', 'disk I/O error')
      return get(id)
    }
    const seen: string[] = []
    const committed: Transition[] = []
    // Whichever comes: the retry, or (the bug) a commit of its FAILED.
    let settled!: () => void
    const done = new Promise<void>((r) => (settled = r))
    const d = new Dispatcher({
      store, accepting: () => true,
      // Never reached: the read fails before a worker is chosen.
      pool: {} as unknown as WorkerPool,
      commit: async (t) => (committed.push(...t), settled(), t.map(() => ({ ok: true as const, changed: true }))),
      dispatched: () => seen.push('dispatched'), released: (id) => seen.push(`released ${id}`),
      park: () => seen.push('parked'), endedElsewhere: () => seen.push('ended'), lost: () => seen.push('lost'), capped: () => seen.push('capped'),
      retryLater: (id) => (seen.push(`retry ${id}`), settled()),
    })
    d.dispatch('x')
    await done
    await d.idle()
    outage = false
    expect(seen).toEqual(['released x', 'retry x'])
    expect(committed).toEqual([])
    expect((await store.executions.get('x'))!.state).toBe('PENDING')
  })

  for (const [state, holder] of [['PENDING', 'live'], ['RUNNING', 'live'], ['RUNNING', 'dead']] as const) {
    it(`lets go of an execution another ${holder} engine took (${state} there), never hosting it, never taking it over`, async () => {
      store = openSqliteStore(':memory:')
      const far = Date.now() + 60_000
      // A dead holder's execution is recovery's to take over (with its transitions), not the dispatcher's.
      await store.engines.register({ id: 'B', host: 'h', pid: 1, startedAt: 0, leaseUntil: holder === 'live' ? far : 0 }, 1)
      await store.engines.register({ id: 'A', host: 'h', pid: 2, startedAt: 0, leaseUntil: far }, 1)
      const made: Transition[] = [{ kind: 'create', executionId: 'x', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' } }]
      if (state === 'RUNNING') made.push({ kind: 'execution', executionId: 'x', to: 'RUNNING' })
      // Created for B (B's commit), as if B took it from A's queue.
      await store.commit({ at: 1, owner: 'B', requests: [{ transitions: made }] })
      const seen: string[] = []
      let hosted = false
      const d = new Dispatcher({
        store, accepting: () => true,
        pool: { host: async () => { hosted = true; throw new Error('must not be hosted') } } as unknown as WorkerPool,
        // The engine's commits are fenced by its owner, as the batcher's are.
        commit: async (t) => (await store.commit({ at: 2, owner: 'A', requests: [{ transitions: t }] })).results[0]!,
        dispatched: () => seen.push('dispatched'), released: (id) => seen.push(`released ${id}`),
        park: () => seen.push('parked'), endedElsewhere: () => seen.push('ended'), lost: (id) => seen.push(`lost ${id}`), capped: (id) => seen.push(`capped ${id}`),
        retryLater: (id) => seen.push(`retry ${id}`),
      })
      d.dispatch('x')
      await new Promise<void>((r) => setImmediate(r))
      await d.idle()
      expect(seen).toEqual(['lost x', 'released x'])
      expect(hosted).toBe(false)
      const rec = (await store.executions.listActive()).find((e) => e.id === 'x')!
      expect([rec.state, rec.owner]).toEqual([state, 'B'])
    })
  }

  it('asks the store for the cluster\'s cap with each start, and an execution it refuses waits (never hosted, never failed)', async () => {
    store = openSqliteStore(':memory:')
    const make = (id: string): Transition => ({ kind: 'create', executionId: id, workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' } })
    // Another engine runs one already: the store's count, not this engine's.
    await store.commit({ at: 1, owner: 'B', requests: [{ transitions: [make('elsewhere'), { kind: 'execution', executionId: 'elsewhere', to: 'RUNNING' }] }] })
    await store.commit({ at: 1, owner: 'A', requests: [{ transitions: [make('x')] }] })
    const seen: string[] = []
    let hosted = false
    const d = new Dispatcher({
      store, accepting: () => true, cap: 1,
      pool: { host: async () => { hosted = true; throw new Error('must not be hosted') } } as unknown as WorkerPool,
      commit: async (t) => (await store.commit({ at: 2, owner: 'A', requests: [{ transitions: t }] })).results[0]!,
      dispatched: () => seen.push('dispatched'), released: (id) => seen.push(`released ${id}`),
      park: () => seen.push('parked'), endedElsewhere: () => seen.push('ended'), lost: (id) => seen.push(`lost ${id}`),
      capped: (id) => seen.push(`capped ${id}`), retryLater: (id) => seen.push(`retry ${id}`),
    })
    d.dispatch('x')
    await new Promise<void>((r) => setImmediate(r))
    await d.idle()
    expect(seen).toEqual(['capped x'])
    expect(hosted).toBe(false)
    expect((await store.executions.get('x'))!.state).toBe('PENDING')
  })
})
