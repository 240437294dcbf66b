/**
 * A parked execution (only a wait or an approval left: no worker, no process, no place among
 * maxConcurrentWorkflows) still holds its slot of the workflow's `concurrency`, as Kestra counts a paused execution
 * as running: with `limit: 1`, a pending approval keeps the next execution queued until it is decided, cancel-new
 * refuses the next one, and cancel-oldest cancels the parked one. On the real engine and SQLite file.
 */
import { afterEach, describe, expect, it } from 'bun:test'
import type { Engine } from '../actors/engine.ts'
import { pollUntil } from './helpers/child-engine.ts'
import { workflow } from './helpers/engine.ts'
import { engineScope } from './helpers/engine-scope.ts'

const scope = engineScope()
afterEach(() => scope.cleanup())
const engine = async (): Promise<Engine> => (await scope.engine()).engine

/** One approval (or a long durable wait), then a log line, under `limit: 1`. */
const gated = (behavior: string, gate = 'approval: { message: go? }') => workflow(`
id: gated
concurrency: { limit: 1, behavior: ${behavior} }
tasks:
  - id: gate
    ${gate}
  - id: after
    needs: [gate]
    type: core/log.info
    inputs: { message: through }
`)
const manual = { type: 'manual' } as const

/** Resolves once the execution is parked: WAITING in the store, with no run in flight and off every worker. */
async function parked(e: Engine, id: string): Promise<void> {
  await pollUntil(async () => {
    const rec = await e.store.executions.get(id)
    return rec?.state === 'WAITING' && rec.reason !== 'WORKFLOW_CONCURRENCY' && e.stats().runningExecutions === 0 ? true : undefined
  }, 20_000, `${id} to park`)
}

describe('a parked execution holds its slot of the workflow concurrency', () => {
  it('queue, limit 1: a pending approval keeps the next one queued until it is decided; then the next one runs', async () => {
    const e = await engine()
    const wf = gated('queue')
    const a = (await e.start({ workflow: wf, trigger: manual })).id
    await parked(e, a)
    const b = await e.start({ workflow: wf, trigger: manual })
    expect([b.state, b.reason]).toEqual(['WAITING', 'WORKFLOW_CONCURRENCY'])
    // The slot watcher looks again (it polls every 250 ms, and on every execution that settles): still queued.
    const c = await e.start({ workflow: wf, trigger: manual })
    await e.cancel(c.id, 'only here to make the watcher look again')
    expect((await e.waitFor(c.id)).state).toBe('CANCELLED')
    expect(await e.store.executions.get(b.id)).toMatchObject({ state: 'WAITING', reason: 'WORKFLOW_CONCURRENCY' })
    expect((await e.store.executions.taskRun(b.id, 'gate'))).toMatchObject({ state: 'PENDING', attempt: 0 }) // nothing of it ran
    await e.decide(a, 'gate', { verdict: 'approve', inputs: {}, by: 'test' })
    expect((await e.waitFor(a)).state).toBe('SUCCESS')
    // The slot is free: b takes it, and parks on its own approval, holding it in turn.
    await parked(e, b.id)
    expect((await e.store.executions.taskRun(b.id, 'gate'))).toMatchObject({ state: 'WAITING', reason: 'APPROVAL' })
    await e.decide(b.id, 'gate', { verdict: 'reject', reason: 'enough', by: 'test' })
    expect((await e.waitFor(b.id)).state).toBe('FAILED')
  }, 60_000)

  it('cancel-new, limit 1: an execution parked on a durable wait refuses the next one (CONCURRENCY_LIMIT)', async () => {
    const e = await engine()
    const wf = gated('cancel-new', 'wait: { duration: 1h }')
    const a = (await e.start({ workflow: wf, trigger: manual })).id
    await parked(e, a)
    const b = await e.start({ workflow: wf, trigger: manual })
    expect(b.state).toBe('CANCELLED')
    expect(b.error?.code).toBe('CONCURRENCY_LIMIT')
    expect((await e.store.executions.get(a))?.state).toBe('WAITING')
    await e.cancel(a)
  }, 60_000)

  it('cancel-oldest, limit 1: the parked execution is the one cancelled, and the new one runs', async () => {
    const e = await engine()
    const wf = gated('cancel-oldest')
    const a = (await e.start({ workflow: wf, trigger: manual })).id
    await parked(e, a)
    const b = (await e.start({ workflow: wf, trigger: manual })).id
    const old = await e.waitFor(a)
    expect(old.state).toBe('CANCELLED')
    expect(old.error?.message).toContain(b)
    expect((await e.store.executions.taskRun(a, 'gate'))?.state).toBe('CANCELLED')
    await parked(e, b)
    await e.decide(b, 'gate', { verdict: 'approve', inputs: {}, by: 'test' })
    expect((await e.waitFor(b)).state).toBe('SUCCESS')
  }, 60_000)
})
