import { afterEach, describe, expect, it } from 'bun:test'
import { ManualClock } from '../../runtime/clock.ts'
import type { CommitRequest, Transition } from '../../runtime/store/checkpoint.ts'
import { openSqliteStore, type SqliteStore } from '../../runtime/store/sqlite/store.ts'
import type { ChildEnd } from '../../runtime/store/types.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import { ChildWatcher, withChildEnds } from './subflows.ts'

const wf = (id: string): Workflow => ({ id, enabled: true, inputs: [], secrets: [], triggers: [], tasks: [{ id: 'a', kind: 'plugin', type: 'core/log.info', needs: [], inputs: {} }] })
const create = (executionId: string, id: string, parent?: string): Transition => ({
  kind: 'create', executionId, workflow: wf(id), revision: 1, inputs: {}, trigger: { type: 'api' },
  ...(parent ? { parent: { executionId: parent, taskId: 'a', depth: 1 } } : {}),
})

describe('child watcher (the parents this engine owns hear of their ended children)', () => {
  let store: SqliteStore
  afterEach(async () => store.close())

  /** Parent `p` (owned by `owner`) waits on its run `a` for child `c`, which the other engine `B` ran to `SUCCESS`. */
  async function endedElsewhere(owner: string): Promise<void> {
    store = openSqliteStore(':memory:')
    const req = (transitions: Transition[], atomic = false): CommitRequest => ({ transitions, atomic })
    await store.commit({ at: 1, owner, requests: [req([create('p', 'parent'), { kind: 'execution', executionId: 'p', to: 'RUNNING' }])] })
    await store.commit({ at: 2, owner, requests: [req([{ kind: 'task', executionId: 'p', taskId: 'a', to: 'WAITING', reason: 'SUBFLOW', child: 'c' }, create('c', 'kid', 'p')], true)] })
    // The child moved to engine B (its own commits, unfenced here: B's claim is the store's business) and ended there.
    await store.commit({ at: 3, requests: [req([{ kind: 'execution', executionId: 'c', to: 'RUNNING' }, { kind: 'execution', executionId: 'c', to: 'SUCCESS', outputs: { n: 1 } }])] })
  }

  const watcher = (tell: (p: string, path: string, end: ChildEnd) => Promise<boolean>, enqueued: string[]) =>
    new ChildWatcher({ store, clock: new ManualClock(0), owner: 'A', tell, enqueue: (id) => enqueued.push(id), busy: () => true })

  it('tells the parent on its worker when it is there, with the child outputs', async () => {
    await endedElsewhere('A')
    const told: [string, string, ChildEnd][] = []
    const enqueued: string[] = []
    const w = watcher(async (p, path, end) => (told.push([p, path, end]), true), enqueued)
    w.wake()
    await until(() => told.length > 0)
    expect(told).toEqual([['p', 'a', { executionId: 'c', state: 'SUCCESS', outputs: { n: 1 } }]])
    expect(enqueued).toEqual([])
    w.stop()
  })

  it('queues a parent that is not on a worker (parked), which then reads the end with its snapshot', async () => {
    await endedElsewhere('A')
    const enqueued: string[] = []
    const w = watcher(async () => false, enqueued)
    w.wake()
    await until(() => enqueued.length > 0)
    expect(enqueued).toEqual(['p'])
    const snap = await withChildEnds(store, (await store.executions.snapshot('p'))!)
    expect(snap.childEnds).toEqual({ a: { executionId: 'c', state: 'SUCCESS', outputs: { n: 1 } } })
    w.stop()
  })

  it("leaves another engine's parents to that engine", async () => {
    await endedElsewhere('B')
    const enqueued: string[] = []
    let told = 0
    const w = watcher(async () => (told++, false), enqueued)
    w.wake()
    await w.idle()
    expect([told, enqueued]).toEqual([0, []])
    w.stop()
  })
})

/** Polls with a deadline (the watcher's pass is a few awaits on the store). */
async function until(ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out')
    await Bun.sleep(1)
  }
}
