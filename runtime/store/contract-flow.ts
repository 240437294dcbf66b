/**
 * The storage contract's part for issue 13 (labels, per-workflow concurrency), run inside describeStoreContract
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
}
