/**
 * The storage contract's part for issue 13 (labels, per-workflow concurrency, subflow links), run inside describeStoreContract
 * (contract.ts) on the same stores: a backend runs it with the rest, by the same one call.
 */
import { describe, expect, it } from 'bun:test'
import type { ErrorInfo } from '../errors.ts'
import type { ConcurrencyPolicy, Workflow } from '../workflow/model.ts'
import type { CommitBatch, CommitRequest, Transition } from './checkpoint.ts'
import type { Store } from './store.ts'

/** What the contract's suite hands this part: the current store, another handle on its database, a commit. */
export interface FlowContractContext {
  store(): Store
  open(): Promise<Store>
  commit(s: Store, requests: CommitRequest[], extra?: Partial<CommitBatch>): ReturnType<Store['commit']>
}

const wf = (concurrency?: ConcurrencyPolicy): Workflow => ({
  id: 'limited', enabled: true, inputs: [], secrets: [], triggers: [],
  tasks: [{ id: 'a', kind: 'plugin', type: 'core/log.info', needs: [], inputs: {} }],
  finally: [{ id: 'clean', kind: 'plugin', type: 'core/log.info', needs: [], inputs: {} }],
  ...(concurrency ? { concurrency } : {}),
})
const create = (executionId: string, workflow: Workflow, labels?: Record<string, string>): Transition =>
  ({ kind: 'create', executionId, workflow, revision: 1, inputs: {}, trigger: { type: 'api' }, ...(labels ? { labels } : {}) })
const one = (t: Transition[]): CommitRequest => ({ transitions: t })
const code = (r: { ok: boolean; error?: ErrorInfo }) => (r.ok ? 'ok' : r.error?.code)

export function describeFlowContract(ctx: FlowContractContext): void {
  const state = async (id: string) => {
    const e = (await ctx.store().executions.get(id))!
    return e.reason ? `${e.state}:${e.reason}` : e.state
  }
  const end = (id: string, at: number) => ctx.commit(ctx.store(), [one([{ kind: 'execution', executionId: id, to: 'RUNNING' }, { kind: 'execution', executionId: id, to: 'SUCCESS' }])], { at })

  describe('labels and task lists', () => {
    it('stores an execution\'s labels and every list\'s runs, and lists by labels (all must match)', async () => {
      const s = ctx.store()
      await ctx.commit(s, [one([create('l1', wf(), { team: 'data', env: 'prod' })]), one([create('l2', wf(), { team: 'data' })]), one([create('l3', wf())])])
      expect((await s.executions.get('l1'))!.labels).toEqual({ team: 'data', env: 'prod' })
      expect((await s.executions.get('l3'))!.labels).toBeUndefined()
      expect((await s.executions.taskRuns('l1')).map((r) => r.taskId)).toEqual(['a', 'finally/clean'])
      const ids = async (labels: Record<string, string>) => (await s.executions.list({ labels })).items.map((e) => e.id).sort()
      expect(await ids({ team: 'data' })).toEqual(['l1', 'l2'])
      expect(await ids({ team: 'data', env: 'prod' })).toEqual(['l1'])
      expect(await ids({ team: 'ops' })).toEqual([])
      expect((await s.executions.list({ labels: { team: 'data' }, states: ['PENDING'], limit: 1 })).total).toBe(2)
    })

    it('lists by creation time, since inclusive and until exclusive, with and without labels', async () => {
      const s = ctx.store()
      for (let i = 0; i < 4; i++) await ctx.commit(s, [one([create(`t${i}`, wf(), i % 2 ? { team: 'data' } : undefined)])], { at: 100 * (i + 1) })
      const ids = async (q: Parameters<typeof s.executions.list>[0]) => (await s.executions.list(q)).items.map((e) => e.id)
      expect(await ids({ since: 200 })).toEqual(['t3', 't2', 't1'])
      expect(await ids({ until: 300 })).toEqual(['t1', 't0'])
      expect(await ids({ since: 200, until: 400 })).toEqual(['t2', 't1'])
      expect((await s.executions.list({ since: 200, until: 400 })).total).toBe(2)
      expect(await ids({ labels: { team: 'data' }, since: 250 })).toEqual(['t3'])
      expect(await ids({ labels: { team: 'data' }, until: 400 })).toEqual(['t1'])
      expect(await ids({ since: 401 })).toEqual([])
    })
  })

  describe('forEach iterations', () => {
    it('adds iteration runs under the parent, ordered by index after it, once (re-applied: changed false), fenced by the owner', async () => {
      const s = ctx.store()
      await ctx.commit(s, [one([create('it1', wf())])], { at: 1, owner: 'E' })
      const add = (count: number, parent = 'a'): Transition => ({ kind: 'iterations', executionId: 'it1', parent, count, taskKind: 'plugin' })
      expect((await ctx.commit(s, [one([add(12)])], { at: 2, owner: 'E' })).results[0]).toEqual([{ ok: true, changed: true }])
      const runs = await s.executions.taskRuns('it1')
      expect(runs.map((r) => r.taskId)).toEqual(['a', ...Array.from({ length: 12 }, (_, i) => `a[${i}]`), 'finally/clean'])
      expect(runs[11]).toMatchObject({ taskId: 'a[10]', parentPath: 'a', iteration: 10, kind: 'plugin', state: 'PENDING', attempt: 0 })
      await ctx.commit(s, [one([{ kind: 'task', executionId: 'it1', taskId: 'a[3]', to: 'RUNNING', attempt: 1 }])], { at: 3, owner: 'E' })
      expect((await ctx.commit(s, [one([add(12)])], { at: 4, owner: 'E' })).results[0]).toEqual([{ ok: true, changed: false }])
      expect((await s.executions.taskRun('it1', 'a[3]'))!.state).toBe('RUNNING')
      expect(code((await ctx.commit(s, [one([add(13)])], { at: 5, owner: 'F' })).results[0]![0]!)).toBe('CONFLICT')
      expect((await s.executions.taskRuns('it1')).length).toBe(14)
      expect(code((await ctx.commit(s, [one([add(1, 'nope')])], { at: 6, owner: 'E' })).results[0]![0]!)).toBe('NOT_FOUND')
    })
  })

  describe('workflow concurrency', () => {
    it('queue: over the limit a new execution waits (WORKFLOW_CONCURRENCY) and is admitted in creation order once a slot frees', async () => {
      const s = ctx.store()
      const policy = { limit: 1, behavior: 'queue' as const }
      await ctx.commit(s, [one([create('q1', wf(policy))]), one([create('q2', wf(policy))]), one([create('q3', wf(policy))])], { at: 10 })
      expect([await state('q1'), await state('q2'), await state('q3')]).toEqual(['PENDING', 'WAITING:WORKFLOW_CONCURRENCY', 'WAITING:WORKFLOW_CONCURRENCY'])
      // No slot yet, and q3 is not first: both stay.
      const early = await ctx.commit(s, [one([{ kind: 'admit', executionId: 'q3' }, { kind: 'admit', executionId: 'q2' }])], { at: 11 })
      expect(early.results[0]).toEqual([{ ok: true, changed: false }, { ok: true, changed: false }])
      await end('q1', 12)
      const later = await ctx.commit(s, [one([{ kind: 'admit', executionId: 'q3' }, { kind: 'admit', executionId: 'q2' }])], { at: 13 })
      expect(later.results[0]).toEqual([{ ok: true, changed: false }, { ok: true, changed: true }])
      expect([await state('q2'), await state('q3')]).toEqual(['RUNNING', 'WAITING:WORKFLOW_CONCURRENCY'])
      const refused = (await ctx.commit(s, [one([{ kind: 'admit', executionId: 'q2' }])])).results[0]![0]!
      expect(code(refused)).toBe('INVALID_TRANSITION') // not waiting any more
      expect((await s.audit.forExecution('q2')).map((a) => a.type)).toEqual(['CREATED', 'STATE_CHANGE', 'STARTED'])
    })

    it('several admits in one request, oldest first, take every free slot in that one commit, each counted after the ones before', async () => {
      const s = ctx.store()
      const policy = { limit: 3, behavior: 'queue' as const }
      const ids = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']
      await ctx.commit(s, ids.map((id) => one([create(id, wf(policy))])), { at: 20 })
      expect(await Promise.all(ids.map(state))).toEqual(['PENDING', 'PENDING', 'PENDING', ...Array(4).fill('WAITING:WORKFLOW_CONCURRENCY')])
      await end('m1', 21)
      await end('m2', 22)
      // Two slots are free: of the four waiting ones asked for in one request, the two oldest go, the others wait.
      const admits = (await ctx.commit(s, [one(['m4', 'm5', 'm6', 'm7'].map((executionId): Transition => ({ kind: 'admit', executionId })))], { at: 23 })).results[0]
      expect(admits).toEqual([{ ok: true, changed: true }, { ok: true, changed: true }, { ok: true, changed: false }, { ok: true, changed: false }])
      expect(await Promise.all(['m3', 'm4', 'm5', 'm6', 'm7'].map(state))).toEqual(['PENDING', 'RUNNING', 'RUNNING', 'WAITING:WORKFLOW_CONCURRENCY', 'WAITING:WORKFLOW_CONCURRENCY'])
    })

    it('waiting ones go in the order their creations committed, not by id, and are listed so for the engines to ask', async () => {
      const s = ctx.store()
      const policy = { limit: 1, behavior: 'queue' as const }
      await ctx.commit(s, [one([create('q0', wf(policy))])], { at: 30 })
      // Two nodes: the younger id's creation committed first (ids are minted before their commit).
      await ctx.commit(s, [one([create('qz', wf(policy))])], { at: 31 })
      await ctx.commit(s, [one([create('qa', wf(policy))])], { at: 32 })
      const workflowId = (await s.executions.get('qz'))!.workflowId
      expect(await s.executions.waitingOrder(workflowId, 5)).toEqual(['qz', 'qa'])
      await end('q0', 33)
      const admit = async (id: string) => (await ctx.commit(s, [one([{ kind: 'admit', executionId: id }])], { at: 34 })).results[0]![0]
      expect(await admit('qa')).toEqual({ ok: true, changed: false })
      expect(await admit('qz')).toEqual({ ok: true, changed: true })
      expect(await s.executions.waitingOrder(workflowId, 5)).toEqual(['qa'])
    })

    it('cancel-new: over the limit a new execution is created CANCELLED with CONCURRENCY_LIMIT, every run with it', async () => {
      const s = ctx.store()
      const policy = { limit: 1, behavior: 'cancel-new' as const }
      await ctx.commit(s, [one([create('n1', wf(policy))]), one([create('n2', wf(policy))])])
      expect(await state('n1')).toBe('PENDING')
      expect((await s.executions.get('n2'))).toMatchObject({ state: 'CANCELLED', error: { code: 'CONCURRENCY_LIMIT' } })
      expect((await s.executions.taskRuns('n2')).map((r) => r.state)).toEqual(['CANCELLED', 'CANCELLED'])
    })

    it('cancel-oldest: the oldest holder gets a cancel request for its owner, a waiting one is cancelled outright', async () => {
      const s = ctx.store()
      const policy = { limit: 1, behavior: 'cancel-oldest' as const }
      await ctx.commit(s, [one([create('o1', wf(policy))])], { owner: 'A', at: 1 })
      await ctx.commit(s, [one([create('o2', wf(policy))])], { owner: 'B', at: 2 })
      expect([await state('o1'), await state('o2')]).toEqual(['PENDING', 'WAITING:WORKFLOW_CONCURRENCY'])
      expect(await s.executions.cancelRequests('A')).toMatchObject([{ id: 'o1', error: { code: 'CANCELLED', message: expect.stringContaining('o2') } }])
      expect(await s.executions.cancelRequests('B')).toEqual([])
      // A third: o1 is being stopped already, so the waiting o2 makes room.
      await ctx.commit(s, [one([create('o3', wf(policy))])], { owner: 'B', at: 3 })
      expect([await state('o2'), await state('o3')]).toEqual(['CANCELLED', 'WAITING:WORKFLOW_CONCURRENCY'])
      expect((await s.audit.forExecution('o1')).map((a) => a.type)).toContain('CANCEL_REQUESTED')
      await ctx.commit(s, [one([{ kind: 'execution', executionId: 'o1', to: 'CANCELLED' }])], { owner: 'A', at: 4 })
      expect(await s.executions.cancelRequests('A')).toEqual([])
      expect((await ctx.commit(s, [one([{ kind: 'admit', executionId: 'o3' }])], { owner: 'B', at: 5 })).results[0]).toEqual([{ ok: true, changed: true }])
    })

    it('two handles creating at once never both take the last slot; an admit is fenced by the owner', async () => {
      const s = ctx.store()
      const other = await ctx.open()
      const policy = { limit: 2, behavior: 'queue' as const }
      const ids = Array.from({ length: 10 }, (_, i) => `c${i}`)
      await Promise.all(ids.map((id, i) => ctx.commit(i % 2 ? other : s, [one([create(id, wf(policy))])], { owner: i % 2 ? 'B' : 'A' })))
      const states = await Promise.all(ids.map(state))
      expect(states.filter((x) => x === 'PENDING')).toHaveLength(2)
      expect(states.filter((x) => x === 'WAITING:WORKFLOW_CONCURRENCY')).toHaveLength(8)
      const waiting = ids.filter((_, i) => states[i] !== 'PENDING')
      const ownerOf = (id: string) => (ids.indexOf(id) % 2 ? 'B' : 'A')
      const rival = ownerOf(waiting[0]!) === 'A' ? 'B' : 'A'
      for (const id of ids.filter((_, i) => states[i] === 'PENDING')) await end(id, 50)
      const fenced = (await ctx.commit(s, [one([{ kind: 'admit', executionId: waiting[0]! }])], { owner: rival })).results[0]![0]!
      expect(code(fenced)).toBe('CONFLICT')
      const admitted = await Promise.all(waiting.map((id) => ctx.commit(ownerOf(id) === 'A' ? s : other, [one([{ kind: 'admit', executionId: id }])], { owner: ownerOf(id) })))
      // The two oldest waiting ones take the two free slots, whoever asked first.
      expect(admitted.map((r) => r.results[0]![0]).filter((r) => r!.ok && r!.changed)).toHaveLength(2)
      expect(await state(waiting[0]!)).toBe('RUNNING')
      expect(await state(waiting[1]!)).toBe('RUNNING')
    })
  })

  describe('subflow links', () => {
    const parentWf: Workflow = { ...wf(), id: 'parent' }
    const childWf: Workflow = { ...wf(), id: 'kid' }
    /** The parent's run `a` starts waiting for `child`, and `child` is created linked to it: one atomic request. */
    const startChild = (parent: string, child: string): CommitRequest => ({
      atomic: true,
      transitions: [
        { kind: 'task', executionId: parent, taskId: 'a', to: 'WAITING', reason: 'SUBFLOW', child },
        { ...(create(child, childWf) as Extract<Transition, { kind: 'create' }>), parent: { executionId: parent, taskId: 'a', depth: 1 } },
      ],
    })
    const run = (id: string) => one([{ kind: 'execution', executionId: id, to: 'RUNNING' }])

    it("links a child to its parent's run both ways in the request that starts it, and lists the parent once the child ended", async () => {
      const s = ctx.store()
      await ctx.commit(s, [one([create('sp1', parentWf)]), run('sp1')], { at: 1, owner: 'A' })
      const started = await ctx.commit(s, [startChild('sp1', 'sc1')], { at: 2, owner: 'A' })
      expect(started.results[0]!.every((r) => r.ok)).toBe(true)
      expect(await s.executions.taskRun('sp1', 'a')).toMatchObject({ state: 'WAITING', reason: 'SUBFLOW', childExecutionId: 'sc1' })
      expect((await s.executions.get('sc1'))!.parent).toEqual({ executionId: 'sp1', taskId: 'a', depth: 1 })
      expect((await s.executions.get('sp1'))!.parent).toBeUndefined()
      expect(await s.executions.endedChildren('A')).toEqual([])
      await end('sc1', 3)
      expect(await s.executions.endedChildren('A')).toEqual([{ executionId: 'sp1', taskId: 'a', childId: 'sc1' }])
      expect(await s.executions.endedChildren('B')).toEqual([]) // another engine's parents only
      // Once its end is committed the run waits no more: not listed again.
      await ctx.commit(s, [one([{ kind: 'task', executionId: 'sp1', taskId: 'a', to: 'RUNNING', attempt: 1 }, { kind: 'task', executionId: 'sp1', taskId: 'a', to: 'SUCCESS', output: {} }])], { at: 4, owner: 'A' })
      expect(await s.executions.endedChildren('A')).toEqual([])
    })

    it("creates no child when the parent's run may not wait any more (the request is all or nothing)", async () => {
      const s = ctx.store()
      await ctx.commit(s, [one([create('sp2', parentWf)]), run('sp2'), one([{ kind: 'task', executionId: 'sp2', taskId: 'a', to: 'CANCELLED' }])], { at: 1, owner: 'A' })
      const refused = await ctx.commit(s, [startChild('sp2', 'sc2')], { at: 2, owner: 'A' })
      expect(refused.results[0]!.map(code)).toEqual(['INVALID_TRANSITION', 'INVALID_TRANSITION'])
      expect(await s.executions.get('sc2')).toBeUndefined()
      expect((await s.executions.taskRun('sp2', 'a'))!.childExecutionId).toBeUndefined()
    })

    it('a run that stops waiting for a child still running asks that child to stop, in the same commit; an ended child is left alone', async () => {
      const s = ctx.store()
      await ctx.commit(s, [one([create('sp3', parentWf)]), run('sp3'), startChild('sp3', 'sc3')], { at: 1, owner: 'A' })
      await ctx.commit(s, [run('sc3')], { at: 2, owner: 'A' })
      await ctx.commit(s, [one([{ kind: 'task', executionId: 'sp3', taskId: 'a', to: 'CANCELLED', error: { code: 'CANCELLED', message: 'by a person' } }])], { at: 3, owner: 'A' })
      const asked = await s.executions.cancelRequests('A')
      expect(asked.map((r) => r.id)).toEqual(['sc3'])
      expect(asked[0]!.error).toMatchObject({ code: 'CANCELLED', message: expect.stringContaining('sp3') })
      expect((await s.audit.forExecution('sc3')).some((a) => a.type === 'CANCEL_REQUESTED')).toBe(true)

      await ctx.commit(s, [one([create('sp4', parentWf)]), run('sp4'), startChild('sp4', 'sc4')], { at: 4, owner: 'A' })
      await end('sc4', 5)
      await ctx.commit(s, [one([{ kind: 'task', executionId: 'sp4', taskId: 'a', to: 'RUNNING', attempt: 1 }])], { at: 6, owner: 'A' })
      expect((await s.executions.cancelRequests('A')).map((r) => r.id)).toEqual(['sc3'])
    })
  })
}
