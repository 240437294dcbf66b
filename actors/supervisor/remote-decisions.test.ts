/**
 * The holder's side of decision requests (remote-decisions.ts) on a real SQLite store, with the decision itself
 * taken by a recording stand-in for the supervisor's local decide: a readable request is taken once and settled
 * taken; an unreadable one (another engine wrote it) is settled INVALID_INPUT alone, without holding up the others;
 * a refusal because the execution moved to another engine is left for that engine.
 */
import { afterEach, describe, expect, it } from 'bun:test'
import { ManualClock } from '../../runtime/clock.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { Transition } from '../../runtime/store/checkpoint.ts'
import { openSqliteStore, type SqliteStore } from '../../runtime/store/sqlite/store.ts'
import type { Decision } from '../../runtime/store/types.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import { RemoteDecisions } from './remote-decisions.ts'

const wf: Workflow = { id: 'w', enabled: true, inputs: [], secrets: [], triggers: [], tasks: [{ id: 'gate', kind: 'plugin', type: 'core/log.info', needs: [], inputs: {} }] }
const approve: Decision = { verdict: 'approve', inputs: { ticket: 'OPS-1' }, by: 'alice' }

describe('decisions asked of this engine', () => {
  let store: SqliteStore
  afterEach(() => store.close())

  const setUp = async () => {
    store = openSqliteStore(':memory:')
    const commit = (owner: string, transitions: Transition[]) => store.commit({ at: 1, owner, requests: [{ transitions }] })
    await commit('A', [{ kind: 'create', executionId: 'x', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' } }])
    await commit('B', [{ kind: 'requestDecision', requestId: 'good', executionId: 'x', taskId: 'gate', decision: approve }])
    store.db.query(`INSERT INTO decision_requests (id, execution_id, task_id, decision, from_engine, requested_at) VALUES ('bad', 'x', 'gate', '{not json', 'B', 2)`).run()
  }
  const holder = (decide: (id: string, task: string, d: Decision) => Promise<unknown>) => new RemoteDecisions({
    store, clock: new ManualClock(10), owner: 'A', decide, busy: () => true,
    commit: async (t) => (await store.commit({ at: 10, owner: 'A', requests: [{ transitions: t }] })).results[0]!,
  })

  it('takes a readable request once, and settles an unreadable one INVALID_INPUT on its own', async () => {
    await setUp()
    const taken: [string, string, Decision][] = []
    const h = holder(async (id, task, d) => void taken.push([id, task, d]))
    h.start()
    await h.idle()
    h.stop()
    expect(taken).toEqual([['x', 'gate', approve]])
    expect(await store.executions.decisionOutcome('good')).toEqual({ taken: true })
    expect(await store.executions.decisionOutcome('bad')).toMatchObject({ taken: false, error: { code: 'INVALID_INPUT' } })
    expect(await store.executions.decisionRequests('A')).toEqual([])
  })

  it('leaves a request whose execution moved to another engine meanwhile unsettled, for that engine', async () => {
    await setUp()
    store.db.query("DELETE FROM decision_requests WHERE id = 'bad'").run()
    const h = holder(async () => {
      // Another engine took the execution over between the listing and the decision.
      store.db.query("UPDATE executions SET owner = 'C' WHERE id = 'x'").run()
      throw new AppError(ErrorCode.Conflict, 'execution x is run by another engine on this store; decide there')
    })
    h.start()
    await h.idle()
    h.stop()
    expect(await store.executions.decisionOutcome('good')).toBeUndefined()
    expect(await store.executions.decisionRequests('C')).toMatchObject([{ id: 'good' }])
  })
})
