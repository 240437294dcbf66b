/**
 * The storage contract: what every backend must do, as a bun:test suite a backend's test file runs with its
 * own factory (runtime/store/sqlite/contract.test.ts). A new backend passes this unchanged: transition rules,
 * idempotent re-apply, batching with per-request isolation, durable commits, newest-first log pages, the cron
 * fire's unique key under two concurrent creators, restart (the one way out of a terminal state) and replay
 * creation, leases (claim, renew, expiry, takeover, fencing, liveness proofs), concurrent writers on one database, labels and
 * per-workflow concurrency (contract-flow.ts), and storage faults as STORAGE_UNAVAILABLE. One file on purpose (~300
 * lines): a backend runs the whole contract with one call, and reads it in one place.
 */

import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import type { ErrorInfo } from '../errors.ts'
import type { Workflow } from '../workflow/model.ts'
import { isDuplicateFire, type CommitBatch, type CommitRequest, type Transition } from './checkpoint.ts'
import { describeFilesContract } from './contract-files.ts'
import { describeFlowContract } from './contract-flow.ts'
import { KEPT_REVISIONS } from './revisions.ts'
import type { Store } from './store.ts'

/** How a backend's test file hands the suite its stores. */
export interface StoreFactory {
  /** A fresh, empty database; `open` gives another handle on it each time (as a second engine would have). */
  create(): Promise<{ open(): Promise<Store>; cleanup(): Promise<void> }>
  /** Makes every write through `store` fail as a storage fault (a read-only remount, a lost primary), or stops. */
  refuseWrites(store: Store, on: boolean): Promise<void>
}

const wf: Workflow = {
  id: 'demo', enabled: true, inputs: [], secrets: [], triggers: [],
  tasks: [
    { id: 'a', kind: 'plugin', type: 'core/log.info', needs: [], inputs: { message: 'hi' } },
    { id: 'b', kind: 'plugin', type: 'core/log.info', needs: ['a'], inputs: {} },
  ],
}

const create = (executionId: string, workflow: Workflow = wf): Transition =>
  ({ kind: 'create', executionId, workflow, revision: 1, inputs: {}, trigger: { type: 'api' } })
const one = (transitions: Transition[], atomic = false): CommitRequest => ({ transitions, ...(atomic ? { atomic } : {}) })
const code = (r: { ok: boolean; error?: ErrorInfo }) => (r.ok ? 'ok' : r.error?.code)

/** Runs the contract against one backend. */
export function describeStoreContract(backend: string, factory: StoreFactory): void {
  describe(`store contract: ${backend}`, () => {
    let db: Awaited<ReturnType<StoreFactory['create']>>
    let store: Store
    const opened: Store[] = []
    const open = async () => {
      const s = await db.open()
      opened.push(s)
      return s
    }
    const commit = (s: Store, requests: CommitRequest[], extra: Partial<CommitBatch> = {}) => s.commit({ requests, at: 100, ...extra })

    beforeEach(async () => {
      db = await factory.create()
      store = await open()
    })
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close()
      await db.cleanup()
    })

    describe('transitions', () => {
      it('creates an execution PENDING with its task runs and CREATED, and follows the state tables', async () => {
        const created = (await commit(store, [one([create('ex1')])], { at: 10 })).results[0]![0]
        expect(created).toEqual({ ok: true, changed: true })
        const snap = (await store.executions.snapshot('ex1'))!
        expect(snap.execution).toMatchObject({ state: 'PENDING', workflowId: 'demo', createdAt: 10, trigger: { type: 'api' } })
        expect(snap.workflow).toEqual(wf)
        expect(snap.taskRuns.map((t) => [t.taskId, t.state, t.attempt])).toEqual([['a', 'PENDING', 0], ['b', 'PENDING', 0]])
        const { results } = await commit(store, [one([
          { kind: 'execution', executionId: 'ex1', to: 'RUNNING' },
          { kind: 'task', executionId: 'ex1', taskId: 'a', to: 'RUNNING', attempt: 1, runner: 'process' },
          { kind: 'task', executionId: 'ex1', taskId: 'b', to: 'SUCCESS' },
          { kind: 'task', executionId: 'nope', taskId: 'a', to: 'RUNNING' },
        ])], { at: 20 })
        expect(results[0]!.map(code)).toEqual(['ok', 'ok', 'INVALID_TRANSITION', 'NOT_FOUND'])
        await commit(store, [one([
          { kind: 'task', executionId: 'ex1', taskId: 'a', to: 'SUCCESS', output: { x: 1 } },
          { kind: 'task', executionId: 'ex1', taskId: 'b', to: 'SKIPPED' },
          { kind: 'execution', executionId: 'ex1', to: 'FAILED', error: { code: 'PLUGIN_ERROR', message: 'boom' } },
        ])], { at: 30 })
        const again = (await commit(store, [one([{ kind: 'execution', executionId: 'ex1', to: 'RUNNING' }])], { at: 40 })).results[0]![0]
        expect(again).toMatchObject({ ok: false, error: { code: 'INVALID_TRANSITION' } }) // terminal is final
        const after = (await store.executions.snapshot('ex1'))!
        expect(after.execution).toMatchObject({ state: 'FAILED', startedAt: 20, endedAt: 30, error: { code: 'PLUGIN_ERROR' } })
        expect(after.taskRuns[0]).toMatchObject({ state: 'SUCCESS', output: { x: 1 }, attempt: 1, startedAt: 20, endedAt: 30 })
        expect(after.taskRuns[0]!.attempts).toEqual([{ attempt: 1, state: 'SUCCESS', runner: 'process', startedAt: 20, endedAt: 30 }])
        expect((await store.audit.forExecution('ex1')).map((a) => [a.type, a.taskId ?? null]))
          .toEqual([['CREATED', null], ['STARTED', null], ['STARTED', 'a'], ['COMPLETED', 'a'], ['STATE_CHANGE', 'b'], ['FAILED', null]])
      })

      it('applies the same transition twice as a no-op: one change, one audit event', async () => {
        await commit(store, [one([create('ex1')])])
        const t: Transition = { kind: 'execution', executionId: 'ex1', to: 'RUNNING' }
        const { results } = await commit(store, [one([t]), one([t])])
        expect(results).toEqual([[{ ok: true, changed: true }], [{ ok: true, changed: false }]])
        expect((await commit(store, [one([t])])).results).toEqual([[{ ok: true, changed: false }]])
        expect((await store.audit.forExecution('ex1')).filter((a) => a.type === 'STARTED')).toHaveLength(1)
        const dup = (await commit(store, [one([create('ex1')])])).results[0]![0]
        expect(dup).toMatchObject({ ok: false, error: { code: 'CONFLICT' } }) // an id is created once
      })

      it('refuses a WAITING that names no known reason (as a worker could send it), and records a change of reason', async () => {
        await commit(store, [one([create('ex1')])], { at: 10 })
        // Transitions arrive from worker threads as data: the type system cannot be the only check.
        const unchecked = (t: object) => t as Transition
        const [none, bogus] = (await commit(store, [one([
          unchecked({ kind: 'task', executionId: 'ex1', taskId: 'a', to: 'WAITING' }),
          unchecked({ kind: 'task', executionId: 'ex1', taskId: 'a', to: 'WAITING', reason: 'NAP' }),
        ])], { at: 20 })).results[0]!
        expect(none).toMatchObject({ ok: false, error: { code: 'INVALID_TRANSITION', message: expect.stringContaining('WAITING needs a wait reason') } })
        expect(bogus).toMatchObject({ ok: false, error: { code: 'INVALID_TRANSITION' } })
        expect((await store.executions.snapshot('ex1'))!.taskRuns[0]).toMatchObject({ state: 'PENDING' })
        const { results } = await commit(store, [one([
          { kind: 'task', executionId: 'ex1', taskId: 'a', to: 'WAITING', reason: 'RETRY_BACKOFF', nextAttemptAt: 50 },
          { kind: 'task', executionId: 'ex1', taskId: 'a', to: 'WAITING', reason: 'CONCURRENCY_LIMIT' },
          { kind: 'task', executionId: 'ex1', taskId: 'a', to: 'WAITING', reason: 'CONCURRENCY_LIMIT' },
        ])], { at: 30 })
        expect(results[0]!.map((r) => r.ok && r.changed)).toEqual([true, true, false])
        const run = (await store.executions.snapshot('ex1'))!.taskRuns[0]!
        expect(run).toMatchObject({ state: 'WAITING', reason: 'CONCURRENCY_LIMIT', kind: 'plugin' })
        expect(run.nextAttemptAt).toBeUndefined()
      })

      it('caps the executions RUNNING in the whole store (ExecutionTransition.cap), whichever engine starts them', async () => {
        const other = await open() // a second engine's handle on the same store
        await commit(store, [one(['c1', 'c2', 'c3', 'c4'].map((id) => create(id)))])
        const start = (id: string, cap: number): Transition => ({ kind: 'execution', executionId: id, to: 'RUNNING', cap })
        expect((await commit(store, [one([start('c1', 2)])])).results[0]!.map(code)).toEqual(['ok'])
        expect((await commit(other, [one([start('c2', 2)])])).results[0]!.map(code)).toEqual(['ok'])
        // Two are running: the third start is refused, from either handle, and nothing of it is written.
        const [full] = (await commit(other, [one([start('c3', 2)])])).results[0]!
        expect(full).toMatchObject({ ok: false, error: { code: 'AT_CAPACITY', details: { running: 2, cap: 2 } } })
        expect((await store.executions.get('c3'))!.state).toBe('PENDING')
        expect((await store.audit.forExecution('c3')).some((a) => a.type === 'STARTED')).toBe(false)
        // In one batch the count sees the batch's own starts; one already RUNNING is a no-op, not refused.
        expect((await commit(store, [one([start('c1', 2)])])).results[0]!.map(code)).toEqual(['ok'])
        await commit(store, [one([{ kind: 'execution', executionId: 'c1', to: 'SUCCESS' }])])
        expect((await commit(store, [one([start('c3', 2)]), one([start('c4', 2)])])).results.map((r) => r.map(code))).toEqual([['ok'], ['AT_CAPACITY']])
        // Without a cap nothing is counted.
        expect((await commit(store, [one([{ kind: 'execution', executionId: 'c4', to: 'RUNNING' }])])).results[0]!.map(code)).toEqual(['ok'])
      })
    })

    describe('batches', () => {
      it('isolates requests: an atomic request refused as a whole rolls back alone, a plain one keeps its valid transitions', async () => {
        await commit(store, [one([create('ex1')]), one([create('ex2')])])
        const { results, logs } = await store.commit({
          at: 50,
          requests: [
            one([{ kind: 'execution', executionId: 'ex1', to: 'RUNNING' }]),
            one([create('ex3'), { kind: 'execution', executionId: 'ex2', to: 'SUCCESS' }], true),
            one([{ kind: 'task', executionId: 'ex2', taskId: 'a', to: 'RUNNING', attempt: 1 }, { kind: 'task', executionId: 'ex2', taskId: 'b', to: 'SUCCESS' }]),
          ],
          logs: [{ executionId: 'ex1', ts: 50, level: 'INFO', source: 'engine', message: 'kept' }],
        })
        expect(results.map((r) => r.map(code))).toEqual([['ok'], ['INVALID_TRANSITION', 'INVALID_TRANSITION'], ['ok', 'INVALID_TRANSITION']])
        expect(await store.executions.get('ex3')).toBeUndefined() // nothing of the refused atomic request stays
        expect((await store.executions.taskRuns('ex3'))).toEqual([])
        expect((await store.executions.get('ex1'))!.state).toBe('RUNNING')
        expect((await store.executions.taskRun('ex2', 'a'))!.state).toBe('RUNNING')
        expect(logs.map((l) => [l.message, typeof l.id])).toEqual([['kept', 'number']])
      })

      it('commits durably when asked, visible to another handle once it resolves', async () => {
        const other = await open()
        await store.commit({ requests: [one([create('ex1')])], at: 5, durable: true })
        expect((await other.executions.get('ex1'))!.state).toBe('PENDING')
      })

      it('two handles on one database write concurrently without losing a commit', async () => {
        const other = await open()
        const ids = Array.from({ length: 40 }, (_, i) => `c${i}`)
        await Promise.all(ids.map((id, i) => commit(i % 2 ? other : store, [one([create(id)])])))
        await Promise.all(ids.map((id, i) => commit(i % 2 ? store : other, [one([{ kind: 'execution', executionId: id, to: 'RUNNING' }])])))
        const page = await store.executions.list({ limit: 100 })
        expect(page.total).toBe(40)
        expect(page.items.every((e) => e.state === 'RUNNING')).toBe(true)
        expect(await other.executions.countByState()).toEqual({ RUNNING: 40 })
      })
    })

    describe('reads', () => {
      it('pages logs newest first with task, level, time and id filters', async () => {
        await commit(store, [one([create('ex1')])])
        const { logs } = await store.commit({
          requests: [], at: 1,
          logs: Array.from({ length: 10 }, (_, i) => ({
            executionId: 'ex1', taskId: i % 2 ? 'a' : 'b', attempt: 1, ts: 100 + i, level: i % 3 ? 'INFO' : 'WARN',
            source: 'plugin:core/log.info', message: `line ${i}`,
          })),
        })
        const first = await store.logs.list({ executionId: 'ex1', limit: 3 })
        expect(first.items.map((l) => l.message)).toEqual(['line 9', 'line 8', 'line 7'])
        expect(first.hasMore).toBe(true)
        expect((await store.logs.list({ executionId: 'ex1', limit: 3, offset: 9 })).hasMore).toBe(false)
        expect((await store.logs.list({ executionId: 'ex1', taskId: 'a' })).items.every((l) => l.taskId === 'a')).toBe(true)
        expect((await store.logs.list({ executionId: 'ex1', levels: ['WARN'] })).items.map((l) => l.message)).toEqual(['line 9', 'line 6', 'line 3', 'line 0'])
        expect((await store.logs.list({ executionId: 'ex1', since: 108 })).items).toHaveLength(2)
        const asc = await store.logs.list({ executionId: 'ex1', afterId: logs[6]!.id, order: 'asc' })
        expect(asc.items.map((l) => l.message)).toEqual(['line 7', 'line 8', 'line 9'])
        // Keyset pages: the page older than a line, newest first, with the other filters; a line added since moves nothing.
        const older = await store.logs.list({ executionId: 'ex1', beforeId: logs[7]!.id, limit: 3 })
        expect(older.items.map((l) => l.message)).toEqual(['line 6', 'line 5', 'line 4'])
        expect(older.hasMore).toBe(true)
        await store.commit({ requests: [], at: 2, logs: [{ executionId: 'ex1', ts: 200, level: 'INFO', source: 'engine', message: 'line 10' }] })
        expect((await store.logs.list({ executionId: 'ex1', beforeId: logs[7]!.id, limit: 3 })).items.map((l) => l.message)).toEqual(['line 6', 'line 5', 'line 4'])
        const oldestWarn = await store.logs.list({ executionId: 'ex1', beforeId: logs[6]!.id, levels: ['WARN'] })
        expect([oldestWarn.items.map((l) => l.message), oldestWarn.hasMore]).toEqual([['line 3', 'line 0'], false])
        expect(await store.logs.count('ex1')).toBe(11)
      })

      it('restarts only a FAILED or CANCELLED execution: non-SUCCESS runs back to PENDING with their attempts as base, SUCCESS kept, audited', async () => {
        await commit(store, [one([create('ex1')])], { at: 10 })
        const running = (await commit(store, [one([{ kind: 'restart', executionId: 'ex1' }])])).results[0]![0]!
        expect(code(running)).toBe('INVALID_TRANSITION') // PENDING: not terminal
        await commit(store, [one([
          { kind: 'execution', executionId: 'ex1', to: 'RUNNING' },
          { kind: 'task', executionId: 'ex1', taskId: 'a', to: 'RUNNING', attempt: 1 },
          { kind: 'task', executionId: 'ex1', taskId: 'a', to: 'SUCCESS', output: { x: 1 } },
          { kind: 'task', executionId: 'ex1', taskId: 'b', to: 'RUNNING', attempt: 1 },
          { kind: 'task', executionId: 'ex1', taskId: 'b', to: 'WAITING', reason: 'RETRY_BACKOFF', nextAttemptAt: 50 },
          { kind: 'task', executionId: 'ex1', taskId: 'b', to: 'RUNNING', attempt: 2 },
          { kind: 'task', executionId: 'ex1', taskId: 'b', to: 'FAILED', error: { code: 'PLUGIN_ERROR', message: 'boom' } },
          { kind: 'execution', executionId: 'ex1', to: 'FAILED', error: { code: 'PLUGIN_ERROR', message: 'boom' } },
        ])], { at: 20 })
        const results = (await commit(store, [one([{ kind: 'restart', executionId: 'ex1', by: 'ops' }]), one([{ kind: 'restart', executionId: 'ex1' }])], { at: 30, owner: 'E' })).results
        expect(results.map((r) => code(r[0]!))).toEqual(['ok', 'INVALID_TRANSITION']) // the second sees it PENDING
        const snap = (await store.executions.snapshot('ex1'))!
        expect(snap.execution).toMatchObject({ state: 'PENDING', reason: 'RESTARTED' })
        expect(snap.execution.error).toBeUndefined()
        expect(snap.execution.endedAt).toBeUndefined()
        expect(snap.taskRuns.map((t) => [t.taskId, t.state, t.attempt, t.attemptBase, t.output, t.error])).toEqual([
          ['a', 'SUCCESS', 1, undefined, { x: 1 }, undefined], ['b', 'PENDING', 2, 2, undefined, undefined]])
        expect(snap.taskRuns[1]!.attempts.map((a) => a.attempt)).toEqual([1, 2]) // the history stays
        // Ordinary transitions out of a terminal state stay refused; the restarted execution follows the tables again.
        const next = (await commit(store, [one([
          { kind: 'execution', executionId: 'ex1', to: 'RUNNING' },
          { kind: 'task', executionId: 'ex1', taskId: 'b', to: 'RUNNING', attempt: 3 },
          { kind: 'task', executionId: 'ex1', taskId: 'a', to: 'RUNNING', attempt: 2 },
        ])], { at: 40, owner: 'E' })).results[0]!
        expect(next.map(code)).toEqual(['ok', 'ok', 'INVALID_TRANSITION'])
        const audit = await store.audit.forExecution('ex1')
        expect(audit.filter((a) => a.type === 'RESTARTED').map((a) => [a.taskId ?? null, a.data])).toEqual([
          [null, { from: 'FAILED', to: 'PENDING', tasks: ['b'], by: 'ops' }], ['b', { from: 'FAILED', to: 'PENDING', attempt: 2, by: 'ops' }]])
        expect(code((await commit(store, [one([{ kind: 'restart', executionId: 'nope' }])])).results[0]![0]!)).toBe('NOT_FOUND')
      })

      it('restarts the onFailure and finally runs too, even those that succeeded: they follow the main tasks again', async () => {
        const withLists: Workflow = { ...wf, finally: [{ id: 'clean', kind: 'plugin', type: 'core/log.info', needs: [], inputs: {} }] }
        await commit(store, [one([create('ex1', withLists)])], { at: 10 })
        await commit(store, [one([
          { kind: 'execution', executionId: 'ex1', to: 'RUNNING' },
          { kind: 'task', executionId: 'ex1', taskId: 'a', to: 'RUNNING', attempt: 1 },
          { kind: 'task', executionId: 'ex1', taskId: 'a', to: 'FAILED', error: { code: 'PLUGIN_ERROR', message: 'boom' } },
          { kind: 'task', executionId: 'ex1', taskId: 'b', to: 'SKIPPED' },
          { kind: 'task', executionId: 'ex1', taskId: 'finally/clean', to: 'RUNNING', attempt: 1 },
          { kind: 'task', executionId: 'ex1', taskId: 'finally/clean', to: 'SUCCESS', output: { cleaned: true } },
          { kind: 'execution', executionId: 'ex1', to: 'FAILED', error: { code: 'PLUGIN_ERROR', message: 'boom' } },
        ])], { at: 20 })
        expect(code((await commit(store, [one([{ kind: 'restart', executionId: 'ex1' }])], { at: 30 })).results[0]![0]!)).toBe('ok')
        const runs = (await store.executions.snapshot('ex1'))!.taskRuns
        expect(runs.map((t) => [t.taskId, t.state, t.attemptBase])).toEqual([['a', 'PENDING', 1], ['b', 'PENDING', undefined], ['finally/clean', 'PENDING', 1]])
      })

      it('creates a replay with its reused runs SUCCESS (their outputs copied) and the link to the original', async () => {
        const replay = { of: 'ex0', from: 'b', reused: { a: { rows: [1, 2] } } }
        await commit(store, [one([{ kind: 'create', executionId: 'ex1', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' }, replay }])], { at: 10 })
        const snap = (await store.executions.snapshot('ex1'))!
        expect(snap.execution.replayOf).toEqual({ executionId: 'ex0', fromTask: 'b' })
        expect(snap.taskRuns.map((t) => [t.taskId, t.state, t.reason, t.output])).toEqual([['a', 'SUCCESS', 'REUSED', { rows: [1, 2] }], ['b', 'PENDING', undefined, undefined]])
        expect((await store.executions.get('ex1'))!.replayOf).toEqual({ executionId: 'ex0', fromTask: 'b' })
        expect((await store.audit.forExecution('ex1'))[0]).toMatchObject({ type: 'CREATED', data: { replayOf: 'ex0', from: 'b', reused: ['a'] } })
      })

      it('lists executions newest first with a total, by workflow and state, and the active ones oldest first', async () => {
        for (let i = 0; i < 5; i++) await commit(store, [one([create(`ex${i}`)])], { at: i })
        await commit(store, [one([{ kind: 'execution', executionId: 'ex1', to: 'RUNNING' }])], { at: 9 })
        const page = await store.executions.list({ workflowId: 'demo', limit: 2 })
        expect([page.total, page.items.map((e) => e.id)]).toEqual([5, ['ex4', 'ex3']])
        expect((await store.executions.list({ states: ['RUNNING'] })).items.map((e) => e.id)).toEqual(['ex1'])
        expect((await store.executions.listActive()).map((e) => e.id)).toEqual(['ex0', 'ex1', 'ex2', 'ex3', 'ex4'])
        expect(await store.executions.countByState()).toEqual({ PENDING: 4, RUNNING: 1 })
      })

      it('keeps each revision\'s YAML, newest first, the newest KEPT_REVISIONS only; a deleted workflow\'s go with it', async () => {
        expect(await store.workflows.revisions('demo')).toBeUndefined()
        await store.workflows.upsert(wf, 'id: demo', 1000)
        await store.workflows.upsert(wf, 'id: demo', 1500) // the same source: no new revision
        await store.workflows.upsert(wf, 'id: demo\n# é', 2000)
        expect(await store.workflows.revisions('demo')).toEqual([
          { revision: 2, createdAt: 2000, bytes: 13 }, { revision: 1, createdAt: 1000, bytes: 8 },
        ])
        expect(await store.workflows.revision('demo', 1)).toEqual({ revision: 1, createdAt: 1000, bytes: 8, source: 'id: demo' })
        expect(await store.workflows.revision('demo', 3)).toBeUndefined()
        expect(await store.workflows.revision('nope', 1)).toBeUndefined()
        for (let i = 3; i <= KEPT_REVISIONS + 2; i++) await store.workflows.upsert(wf, `id: demo\n# ${i}`, 2000 + i)
        const kept = (await store.workflows.revisions('demo'))!
        expect([kept.length, kept[0]!.revision, kept.at(-1)!.revision]).toEqual([KEPT_REVISIONS, KEPT_REVISIONS + 2, 3])
        expect(await store.workflows.revision('demo', 2)).toBeUndefined()
        expect((await store.workflows.revision('demo', KEPT_REVISIONS + 2))?.source).toBe(`id: demo\n# ${KEPT_REVISIONS + 2}`)
        await store.workflows.delete('demo', 9000)
        expect(await store.workflows.revisions('demo')).toBeUndefined()
        await store.workflows.upsert(wf, 'id: demo again', 10_000)
        expect(await store.workflows.revisions('demo')).toEqual([{ revision: 1, createdAt: 10_000, bytes: 14 }])
      })

      it('keeps workflows, secrets (sealed only) and plugin grants, each write with its audit event', async () => {
        const first = await store.workflows.upsert(wf, 'id: demo', 1000, { hash: 'h1', hint: 'abcd', createdAt: 1000 })
        expect(first).toMatchObject({ created: true, changed: true, keyMinted: true, record: { revision: 1, webhookKey: { hint: 'abcd' } } })
        expect((await store.workflows.upsert(wf, 'id: demo', 2000)).record.revision).toBe(1)
        expect((await store.workflows.upsert(wf, 'id: demo\n', 3000)).record).toMatchObject({ revision: 2, updatedAt: 3000 })
        expect(await store.workflows.rotateWebhookKey('demo', { hash: 'h2', hint: 'wxyz', createdAt: 4000 }, 4000))
          .toEqual({ previous: { hash: 'h1', hint: 'abcd', createdAt: 1000 } })
        expect(await store.workflows.rotateWebhookKey('nope', { hash: 'h', hint: 'h', createdAt: 1 }, 1)).toBeUndefined()
        expect((await store.workflows.setEnabled('demo', false, 5000))?.enabled).toBe(false)
        expect((await store.workflows.list({ enabled: true })).total).toBe(0)
        expect(await store.workflows.delete('demo', 6000)).toBe(true)
        expect(await store.workflows.get('demo')).toBeUndefined()
        expect((await store.audit.list({ workflowId: 'demo' })).map((a) => a.type).reverse())
          .toEqual(['WORKFLOW_APPLIED', 'WORKFLOW_APPLIED', 'WEBHOOK_KEY_ROTATED', 'WORKFLOW_DELETED'])

        const sealed = { ciphertext: new Uint8Array([1, 2, 3]), iv: new Uint8Array(12).fill(4), tag: new Uint8Array(16).fill(5) }
        expect(await store.secrets.put('TOKEN', sealed, 10)).toEqual({ name: 'TOKEN', version: 1, createdAt: 10, updatedAt: 10 })
        expect(await store.secrets.put('TOKEN', sealed, 20)).toMatchObject({ version: 2, createdAt: 10, updatedAt: 20 })
        const back = (await store.secrets.sealed('TOKEN'))!
        expect([...back.ciphertext, ...back.iv.slice(0, 1), ...back.tag.slice(0, 1)]).toEqual([1, 2, 3, 4, 5])
        expect([...(await store.secrets.sealedMany(['TOKEN', 'MISSING'])).keys()]).toEqual(['TOKEN'])
        expect((await store.secrets.list()).map((m) => m.name)).toEqual(['TOKEN'])
        expect(await store.secrets.delete('TOKEN')).toBe(true)
        expect(await store.secrets.meta('TOKEN')).toBeUndefined()

        await store.pluginGrants.record([{ plugin: 'acme/x', version: '1.0.0', grant: { network: ['b', 'a', 'a'] }, dir: '/p' }], 7,
          [{ type: 'PLUGIN_GRANT_CHANGED', data: { plugin: 'acme/x' } }])
        expect(await store.pluginGrants.get('acme/x')).toEqual({ plugin: 'acme/x', version: '1.0.0', grant: { network: ['a', 'b'] }, dir: '/p', seenAt: 7 })
        expect((await store.audit.list({ type: 'PLUGIN_GRANT_CHANGED' }))[0]).toMatchObject({ ts: 7, data: { plugin: 'acme/x' } })
      })
    })

    describe('cron fires', () => {
      const fire = (executionId: string, scheduledAt: number): Transition => ({ kind: 'cronFire', workflowId: 'demo', triggerIndex: 0, scheduledAt, executionId })

      it('two concurrent creators of one tick on two handles: exactly one execution, the other refused as a duplicate', async () => {
        const other = await open()
        const [a, b] = await Promise.all([
          commit(store, [one([create('fa'), fire('fa', 60_000)], true)], { durable: true }),
          commit(other, [one([create('fb'), fire('fb', 60_000)], true)], { durable: true }),
        ])
        const outcomes = [a.results[0]!, b.results[0]!]
        expect(outcomes.filter((r) => r.every((x) => x.ok))).toHaveLength(1)
        const loser = outcomes.find((r) => !r[0]!.ok)!
        expect(loser.every((r) => !r.ok && isDuplicateFire(r.error))).toBe(true)
        expect((await store.executions.list({})).total).toBe(1) // the loser's execution was never committed
        expect((await other.cronFires.list('demo')).map((f) => f.scheduledAt)).toEqual([60_000])
      })

      it('never records a tick at or behind the newest one; pruning keeps each trigger\'s newest', async () => {
        await commit(store, [one([create('f2'), fire('f2', 120_000)], true)])
        const behind = (await commit(store, [one([create('f1'), fire('f1', 60_000)], true)])).results[0]![0]!
        expect(!behind.ok && isDuplicateFire(behind.error)).toBe(true)
        await commit(store, [one([create('f3'), fire('f3', 180_000)], true)])
        expect(await store.cronFires.last('demo', 0)).toBe(180_000)
        expect(await store.cronFires.prune(1_000_000)).toBe(1)
        expect((await store.cronFires.list('demo')).map((f) => [f.scheduledAt, f.executionId])).toEqual([[180_000, 'f3']])
      })
    })

    describe('leases', () => {
      const engine = (id: string, leaseUntil: number) => ({ id, host: 'h', pid: 1, startedAt: 0, leaseUntil })
      const claim = (s: Store, owner: string, at: number) => commit(s, [one([{ kind: 'claim', executionId: 'x' }])], { owner, at })
      const step = (s: Store, owner: string, at: number) => commit(s, [one([{ kind: 'execution', executionId: 'x', to: 'RUNNING' }])], { owner, at })

      it('an owner holds its execution while its lease lives; a claim takes it over after expiry, and the old owner is fenced off', async () => {
        const other = await open()
        await store.engines.register(engine('A', 1000), 0)
        await other.engines.register(engine('B', 1000), 0)
        await commit(store, [one([create('x')])], { owner: 'A', at: 0 })
        expect((await other.executions.listActive())[0]).toMatchObject({ id: 'x', owner: 'A' })
        expect((await claim(other, 'B', 500)).results[0]![0]).toMatchObject({ ok: false, error: { code: 'CONFLICT' } }) // A is live
        expect((await claim(store, 'A', 500)).results[0]![0]).toEqual({ ok: true, changed: false })
        expect(await store.engines.renew('A', 900, 2000)).toBe(true)
        expect((await claim(other, 'B', 1500)).results[0]![0]).toMatchObject({ ok: false }) // renewed: still A's
        expect((await claim(other, 'B', 2001)).results[0]![0]).toEqual({ ok: true, changed: true }) // expired: B takes over
        expect((await step(store, 'A', 2002)).results[0]![0]).toMatchObject({ ok: false, error: { code: 'CONFLICT' } })
        expect((await step(other, 'B', 2002)).results[0]![0]).toEqual({ ok: true, changed: true })
        expect((await store.engines.list()).map((e) => [e.id, e.leaseUntil, e.heartbeatAt])).toEqual([['A', 2000, 900], ['B', 1000, 0]])
        // The takeover is audited: from whom, to whom, and the lease it waited out (no execution runs on two engines).
        const claimed = (await store.audit.forExecution('x')).filter((a) => a.type === 'CLAIMED')
        expect(claimed.map((a) => [a.ts, a.data])).toEqual([[2001, { from: 'A', to: 'B', fromLeaseUntil: 2000 }]])
      })

      it('another engine asks the holder to cancel: recorded for the holder alone, audited with both; a terminal one is left alone', async () => {
        const other = await open()
        await store.engines.register(engine('A', 10_000), 0)
        await other.engines.register(engine('B', 10_000), 0)
        await commit(store, [one([create('x')])], { owner: 'A', at: 0 })
        const ask = (message: string, by?: string) => commit(other, [one([{ kind: 'requestCancel', executionId: 'x', error: { code: 'CANCELLED', message }, ...(by ? { by } : {}) }])], { owner: 'B', at: 5 })
        expect((await ask('stop', 'alice')).results[0]![0]).toEqual({ ok: true, changed: true }) // not fenced: B may ask
        expect((await ask('later')).results[0]![0]).toEqual({ ok: true, changed: true })
        // The first request's error wins; only the holder is told.
        expect(await store.executions.cancelRequests('A')).toEqual([{ id: 'x', error: { code: 'CANCELLED', message: 'stop' } }])
        expect(await store.executions.cancelRequests('B')).toEqual([])
        const asked = (await store.audit.forExecution('x')).filter((a) => a.type === 'CANCEL_REQUESTED')
        expect(asked[0]?.data).toEqual({ from: 'B', holder: 'A', by: 'alice', error: { code: 'CANCELLED', message: 'stop' } })
        await commit(store, [one([{ kind: 'execution', executionId: 'x', to: 'CANCELLED' }])], { owner: 'A', at: 6 })
        expect((await ask('too late')).results[0]![0]).toEqual({ ok: true, changed: false })
        expect(await store.executions.cancelRequests('A')).toEqual([])
        const missing = (await commit(other, [one([{ kind: 'requestCancel', executionId: 'nope', error: { code: 'CANCELLED', message: 'x' } }])], { owner: 'B' })).results[0]![0]!
        expect(!missing.ok && missing.error.code).toBe('NOT_FOUND')
      })

      it('another engine asks the holder to decide: the request is the holder\'s alone, audited, settled once; a terminal one is left alone', async () => {
        const other = await open()
        await store.engines.register(engine('A', 10_000), 0)
        await other.engines.register(engine('B', 10_000), 0)
        await commit(store, [one([create('x')])], { owner: 'A', at: 0 })
        const approve = { verdict: 'approve' as const, inputs: { note: 'ok' }, by: 'alice' }
        const ask = (requestId: string, taskId = 'a', executionId = 'x') =>
          commit(other, [one([{ kind: 'requestDecision', requestId, executionId, taskId, decision: approve }])], { owner: 'B', at: 5 })
        expect((await ask('r1')).results[0]![0]).toEqual({ ok: true, changed: true }) // not fenced: B may ask
        expect(code((await ask('r1')).results[0]![0]!)).toBe('CONFLICT') // one id, one request
        expect(code((await ask('r2', 'nope')).results[0]![0]!)).toBe('NOT_FOUND')
        expect(code((await ask('r3', 'a', 'nope')).results[0]![0]!)).toBe('NOT_FOUND')
        expect(await store.executions.decisionRequests('A')).toEqual([{ id: 'r1', executionId: 'x', taskId: 'a', decision: approve }])
        expect(await store.executions.decisionRequests('B')).toEqual([])
        expect(await other.executions.decisionOutcome('r1')).toBeUndefined()
        const asked = (await store.audit.forExecution('x')).filter((a) => a.type === 'DECISION_REQUESTED')
        expect(asked.map((a) => [a.taskId, a.data])).toEqual([['a', { from: 'B', holder: 'A', request: 'r1', verdict: 'approve', by: 'alice' }]])
        // The holder settles it (fenced like any commit of its own); the first outcome stays.
        const settle = (outcome: { taken: true } | { taken: false; error: ErrorInfo }) =>
          commit(store, [one([{ kind: 'settleDecision', requestId: 'r1', outcome }])], { owner: 'A', at: 6 })
        expect((await settle({ taken: false, error: { code: 'INVALID_INPUT', message: 'bad note' } })).results[0]![0]).toEqual({ ok: true, changed: true })
        expect((await settle({ taken: true })).results[0]![0]).toEqual({ ok: true, changed: false })
        expect(await other.executions.decisionOutcome('r1')).toEqual({ taken: false, error: { code: 'INVALID_INPUT', message: 'bad note' } })
        expect(await store.executions.decisionRequests('A')).toEqual([])
        // Unsettled requests on an execution that ended are nobody's to take.
        expect((await ask('r4')).results[0]![0]).toEqual({ ok: true, changed: true })
        await commit(store, [one([{ kind: 'execution', executionId: 'x', to: 'CANCELLED' }])], { owner: 'A', at: 7 })
        expect(await store.executions.decisionRequests('A')).toEqual([])
        expect((await ask('r5')).results[0]![0]).toEqual({ ok: true, changed: false })
        expect(await other.executions.decisionOutcome('r5')).toBeUndefined()
      })

      it('a released lease (or an owner with no lease row) can be claimed at once; two claimers, one winner', async () => {
        const other = await open()
        await store.engines.register(engine('A', 10_000), 0)
        await commit(store, [one([create('x')])], { owner: 'A', at: 0 })
        await store.engines.release('A')
        expect(await store.engines.renew('A', 1, 20_000)).toBe(false) // gone: it must register again
        const [b, c] = await Promise.all([claim(store, 'B', 1), claim(other, 'C', 1)])
        const won = [b, c].filter((r) => r.results[0]![0]!.ok)
        // B and C hold no lease rows either, so the loser may take it over again: what matters is one owner at a time.
        expect(won.length).toBeGreaterThanOrEqual(1)
        const owner = (await store.executions.listActive())[0]!.owner!
        expect(['B', 'C']).toContain(owner)
        // A lease row gone (released): the claim says so with a null lease.
        expect((await store.audit.forExecution('x')).find((a) => a.type === 'CLAIMED')?.data).toEqual({ from: 'A', to: expect.any(String), fromLeaseUntil: null })
        await other.engines.register(engine(owner, 10_000), 1)
        const rival = owner === 'B' ? 'C' : 'B'
        expect((await claim(other, rival, 2)).results[0]![0]).toMatchObject({ ok: false, error: { code: 'CONFLICT' } })
      })
      it('liveness: alive while the registering handle holds it (seen from any handle), gone once it closed without release, unknown without proof', async () => {
        const other = await open()
        const dying = await db.open() // closed below, as its engine's death would close it
        await dying.engines.register(engine('D', 10_000), 0)
        expect([await store.engines.liveness('D'), await other.engines.liveness('D'), await dying.engines.liveness('D')]).toEqual(['alive', 'alive', 'alive'])
        expect(await store.engines.liveness('never-registered')).toBe('unknown')
        await dying.close()
        expect(await store.engines.liveness('D')).toBe('gone')
        expect((await store.engines.list()).map((e) => e.id)).toEqual(['D']) // the proof goes with the handle, the row stays
        await store.engines.release('D')
        expect(await store.engines.list()).toEqual([])
        await other.engines.register(engine('E', 10_000), 0)
        await other.engines.release('E') // a graceful stop: its proof goes with its row
        expect(await store.engines.liveness('E')).not.toBe('alive')
      })

      it('the node registry: an engine\'s host, pid, times and version are listed as registered, from any handle; none registered without one', async () => {
        const other = await open()
        await store.engines.register({ id: 'V', host: 'node-1', pid: 42, startedAt: 5, leaseUntil: 10_000, version: '1.2.3' }, 7)
        await other.engines.register(engine('W', 10_000), 8)
        expect(await other.engines.list()).toEqual([
          { id: 'W', host: 'h', pid: 1, startedAt: 0, heartbeatAt: 8, leaseUntil: 10_000 },
          { id: 'V', host: 'node-1', pid: 42, startedAt: 5, heartbeatAt: 7, leaseUntil: 10_000, version: '1.2.3' },
        ])
      })
    })

    describeFlowContract({ store: () => store, open, commit })
    describeFilesContract({ store: () => store, open, commit })

    describe('storage faults', () => {
      it('a write the store refuses rejects with STORAGE_UNAVAILABLE, changes nothing, and health says so until a write succeeds', async () => {
        await commit(store, [one([create('ex1')])])
        const events: string[] = []
        store.health.subscribe((e) => events.push(e.type))
        await factory.refuseWrites(store, true)
        for (let i = 0; i < 2; i++) {
          const thrown = await commit(store, [one([{ kind: 'execution', executionId: 'ex1', to: 'RUNNING' }])]).catch((e: unknown) => e)
          expect(thrown).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retryable: true })
        }
        expect(await store.secrets.put('X', { ciphertext: new Uint8Array(1), iv: new Uint8Array(12), tag: new Uint8Array(16) }, 1).catch((e: unknown) => e))
          .toMatchObject({ code: 'STORAGE_UNAVAILABLE' })
        expect(store.health.status()).toMatchObject({ writable: false, failedCommits: 3 })
        expect((await store.executions.get('ex1'))!.state).toBe('PENDING') // reads still work, and nothing changed
        await store.ping()
        expect(await store.probeWrite(1_000_000)).toBe(false)
        await factory.refuseWrites(store, false)
        expect(await store.probeWrite(2_000_000)).toBe(true)
        expect(store.health.status()).toEqual({ writable: true })
        expect(events).toEqual(['degraded', 'recovered'])
      })

      it('a request that fails for its own reasons is not a storage fault', async () => {
        const bad = (await commit(store, [one([{ kind: 'claim', executionId: 'nope' }])], { owner: 'A' })).results[0]![0]
        expect(bad).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } })
        expect(store.health.status()).toEqual({ writable: true })
      })
    })
  })
}
