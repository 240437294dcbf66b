import { afterEach, describe, expect, it } from 'bun:test'
import { ManualClock } from '../../runtime/clock.ts'
import type { Transition, TransitionResult } from '../../runtime/store/checkpoint.ts'
import { openSqliteStore, type SqliteStore } from '../../runtime/store/sqlite/store.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import { SlotWatcher } from './slot-watcher.ts'

const wf: Workflow = {
  id: 'limited', enabled: true, inputs: [], secrets: [], triggers: [], concurrency: { limit: 3, behavior: 'queue' },
  tasks: [{ id: 'a', kind: 'plugin', type: 'core/log.info', needs: [], inputs: {} }],
}

describe('slot watcher (per-workflow concurrency, this engine\'s side)', () => {
  let store: SqliteStore
  afterEach(async () => store.close())

  it('admits every waiting execution that fits in one commit, oldest first, when several slots free at once', async () => {
    store = openSqliteStore(':memory:')
    const ids = ['x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7']
    await store.commit({ at: 1, owner: 'A', requests: ids.map((executionId) => ({ transitions: [{ kind: 'create', executionId, workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' } } as Transition] })) })
    const commits: Transition[][] = []
    const enqueued: string[] = []
    const watcher = new SlotWatcher({
      store, clock: new ManualClock(0), owner: 'A', busy: () => false, cancel: async () => undefined,
      enqueue: (id) => enqueued.push(id),
      commit: async (t): Promise<TransitionResult[]> => {
        commits.push(t)
        return (await store.commit({ at: 5, owner: 'A', requests: [{ transitions: t }] })).results[0]!
      },
    })
    for (const id of ['x4', 'x5', 'x6', 'x7']) watcher.park(id, wf.id, 3)
    await watcher.idle()
    expect(enqueued).toEqual([]) // three hold the slots
    // Two of the three holders end in one commit: two slots free at once.
    await store.commit({ at: 3, owner: 'A', requests: ['x1', 'x2'].map((executionId) => ({ transitions: [
      { kind: 'execution', executionId, to: 'RUNNING' }, { kind: 'execution', executionId, to: 'SUCCESS' }] as Transition[] })) })
    commits.length = 0
    watcher.wake()
    await watcher.idle()
    expect(enqueued).toEqual(['x4', 'x5'])
    // One commit asked for the three oldest waiting ones (the limit), and took both free slots.
    expect(commits).toEqual([[{ kind: 'admit', executionId: 'x4' }, { kind: 'admit', executionId: 'x5' }, { kind: 'admit', executionId: 'x6' }]])
    expect((await Promise.all(['x4', 'x5', 'x6', 'x7'].map((id) => store.executions.get(id)))).map((e) => e!.state)).toEqual(['RUNNING', 'RUNNING', 'WAITING', 'WAITING'])
    expect(watcher.waiting).toBe(2)
    watcher.stop()
  })

  it('admits the one the store lets go, though a younger id of its own committed later (two nodes creating at once)', async () => {
    store = openSqliteStore(':memory:')
    const one: Workflow = { ...wf, concurrency: { limit: 1, behavior: 'queue' } }
    const create = (executionId: string, at: number) => store.commit({ at, owner: 'A', requests: [{ transitions: [
      { kind: 'create', executionId, workflow: one, revision: 1, inputs: {}, trigger: { type: 'api' } } as Transition] }] })
    await create('h0', 1)
    // `zz` was minted later than `aa` but its creation committed first: it is the one that goes first.
    await create('zz', 2)
    await create('aa', 3)
    const enqueued: string[] = []
    const watcher = new SlotWatcher({
      store, clock: new ManualClock(0), owner: 'A', busy: () => false, cancel: async () => undefined,
      enqueue: (id) => enqueued.push(id),
      commit: async (t) => (await store.commit({ at: 5, owner: 'A', requests: [{ transitions: t }] })).results[0]!,
    })
    watcher.park('aa', one.id, 1)
    watcher.park('zz', one.id, 1)
    await store.commit({ at: 4, owner: 'A', requests: [{ transitions: [
      { kind: 'execution', executionId: 'h0', to: 'RUNNING' }, { kind: 'execution', executionId: 'h0', to: 'SUCCESS' }] as Transition[] }] })
    watcher.wake()
    await watcher.idle()
    expect(enqueued).toEqual(['zz'])
    expect((await store.executions.get('zz'))!.state).toBe('RUNNING')
    watcher.stop()
  })
})
