/**
 * The dispatcher (dispatcher.ts) when the store cannot be read for an execution it was asked to dispatch (a database
 * outage, on a real SQLite store whose read is made to fail once): the execution is released and queued again later,
 * never failed — a FAILED commit would only land once the store is back, and fail an execution that did nothing wrong.
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
      park: () => seen.push('parked'), endedElsewhere: () => seen.push('ended'),
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
})
