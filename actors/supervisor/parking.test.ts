/** Parked executions: when one runs again by itself, and that nothing queues it while a decision is committed. */
import { describe, expect, it } from 'bun:test'
import { ManualClock } from '../../runtime/clock.ts'
import type { Store } from '../../runtime/store/store.ts'
import type { ExecutionSnapshot, TaskRunRecord } from '../../runtime/store/types.ts'
import { Parking, parkedUntil } from './parking.ts'

const run = (taskId: string, patch: Partial<TaskRunRecord>): TaskRunRecord =>
  ({ executionId: 'ex', taskId, kind: 'wait', position: 0, state: 'PENDING', attempt: 0, updatedAt: 0, attempts: [], ...patch })
const snap = (runs: TaskRunRecord[], timeoutMs?: number, state: 'WAITING' | 'RUNNING' = 'WAITING'): ExecutionSnapshot => ({
  execution: { id: 'ex', workflowId: 'w', revision: 1, state, trigger: { type: 'manual' }, inputs: {}, createdAt: 0, startedAt: 100, updatedAt: 0 },
  workflow: { id: 'w', enabled: true, inputs: [], secrets: [], triggers: [], tasks: [], ...(timeoutMs ? { timeoutMs } : {}) },
  taskRuns: runs,
})
const storeOf = (s: ExecutionSnapshot) => ({ executions: { snapshot: async () => s } }) as unknown as Store

describe('parking', () => {
  it('wakes at the earliest stored time: a wait, an approval deadline, the workflow timeout; never for a retry or an open approval', () => {
    const w = run('w', { state: 'WAITING', reason: 'TIMER', nextAttemptAt: 5000 })
    const a = run('a', { state: 'WAITING', reason: 'APPROVAL', nextAttemptAt: 3000 })
    const open = run('o', { state: 'WAITING', reason: 'APPROVAL' })
    const retry = run('r', { state: 'WAITING', reason: 'RETRY_BACKOFF', nextAttemptAt: 10 })
    expect(parkedUntil(snap([w, a, open]))).toBe(3000)
    expect(parkedUntil(snap([w, open], 2000))).toBe(2100) // startedAt 100 + the workflow's timeout
    expect(parkedUntil(snap([open, retry]))).toBeUndefined()
  })

  it('queues a parked execution at its time, not before; not at all once it runs again or while a decision holds it', async () => {
    const clock = new ManualClock(0)
    const queued: string[] = []
    const parking = new Parking({ store: storeOf(snap([run('w', { state: 'WAITING', reason: 'TIMER', nextAttemptAt: 1000 })])), clock, enqueue: (id) => queued.push(id) })
    await parking.afterStop('ex')
    await clock.advance(999)
    expect(queued).toEqual([])
    await clock.advance(1)
    expect(queued).toEqual(['ex'])

    await parking.afterStop('ex') // parked again (wake at 1000, due): held by a decision meanwhile
    let release!: () => void
    const held = parking.holding('ex', () => new Promise<void>((r) => (release = r)))
    await clock.advance(10)
    expect(queued).toEqual(['ex']) // the timer is gone while the decision is committed
    release()
    await held
    expect(queued).toEqual(['ex', 'ex']) // and the execution runs on once it is
  })

  it('arms nothing for an execution that stopped without parking, and nothing after shutdown', async () => {
    const clock = new ManualClock(0)
    const queued: string[] = []
    const running = new Parking({ store: storeOf(snap([run('w', { state: 'WAITING', reason: 'TIMER', nextAttemptAt: 10 })], undefined, 'RUNNING')), clock, enqueue: (id) => queued.push(id) })
    await running.afterStop('ex')
    const parked = new Parking({ store: storeOf(snap([run('w', { state: 'WAITING', reason: 'TIMER', nextAttemptAt: 10 })])), clock, enqueue: (id) => queued.push(id) })
    await parked.afterStop('ex')
    parked.stop()
    await clock.advance(100)
    expect(queued).toEqual([])
  })
})
