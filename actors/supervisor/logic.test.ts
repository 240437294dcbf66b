/** The supervisor's pure logic, fed messages: queue order and limit, hand-over, cancels, worker crashes, shutdown. */

import { describe, expect, it } from 'bun:test'
import type { SupervisorEffect, SupervisorInbox } from './inbox.ts'
import { initialSupervisorState, MAX_WORKER_CRASHES, nextSupervisorState, type SupervisorState } from './logic.ts'

/** Feeds messages in order; returns the last state and every effect asked for. */
function feed(messages: SupervisorInbox[], state: SupervisorState = initialSupervisorState(2)) {
  const effects: SupervisorEffect[] = []
  let reply
  for (const m of messages) {
    const step = nextSupervisorState(state, m)
    state = step.state
    effects.push(...step.effects)
    reply = step.reply
  }
  return { state, effects, reply }
}
const enqueue = (executionId: string, front = false): SupervisorInbox => ({ type: 'enqueue', executionId, ...(front ? { front } : {}) })
const dispatches = (effects: SupervisorEffect[]) => effects.filter((e) => e.type === 'dispatch').map((e) => (e as { executionId: string }).executionId)

describe('supervisor logic', () => {
  it('dispatches in queue order up to maxConcurrentWorkflows and the next one when a slot frees', () => {
    const { state, effects } = feed([enqueue('a'), enqueue('b'), enqueue('c'), enqueue('a')])
    expect(dispatches(effects)).toEqual(['a', 'b'])
    expect(state.queue).toEqual(['c']) // a is not queued twice
    const next = feed([{ type: 'dispatched', executionId: 'a', workerId: 1 }, { type: 'finished', executionId: 'a' }], state)
    expect(dispatches(next.effects)).toEqual(['c'])
    expect([...next.state.active]).toEqual([['b', undefined], ['c', undefined]])
  })

  it('fenced, dispatches nothing (the queue waits and takes new executions); unfenced, fills the free slots in order', () => {
    const fenced = feed([enqueue('a'), { type: 'fence' }, { type: 'finished', executionId: 'a' }, enqueue('b'), enqueue('c'), enqueue('d', true)])
    expect(dispatches(fenced.effects)).toEqual(['a']) // before the fence
    expect([fenced.state.queue, fenced.state.active.size]).toEqual([['d', 'b', 'c'], 0])
    const after = feed([{ type: 'unfence' }], fenced.state)
    expect(dispatches(after.effects)).toEqual(['d', 'b'])
    expect(after.state.queue).toEqual(['c'])
  })

  it('capped by the cluster (a start refused AT_CAPACITY): first in the queue again, nothing dispatched until uncapped', () => {
    const s = feed([enqueue('a'), enqueue('b'), enqueue('c')]).state // a and b handed over, c queued
    const capped = feed([{ type: 'capped', executionId: 'b' }, { type: 'finished', executionId: 'a' }, enqueue('d')], s)
    expect(dispatches(capped.effects)).toEqual([]) // a slot here is free, but the cluster's are not
    expect([capped.state.queue, capped.state.active.size]).toEqual([['b', 'c', 'd'], 0])
    const after = feed([{ type: 'uncapped' }], capped.state)
    expect(dispatches(after.effects)).toEqual(['b', 'c'])
    expect(after.state.queue).toEqual(['d'])
  })

  it('taken by another engine: out of the queue (where it was is the reply); left alone while handed over here', () => {
    const s = feed([enqueue('a'), enqueue('b'), enqueue('c'), enqueue('d')]).state // a, b handed over; c, d queued
    const taken = feed([{ type: 'taken', executionId: 'd' }], s)
    expect([taken.reply, taken.state.queue]).toEqual([{ kind: 'queued', index: 1 }, ['c']])
    expect(feed([{ type: 'taken', executionId: 'a' }], s).reply).toEqual({ kind: 'dispatching' })
    expect(feed([{ type: 'taken', executionId: 'z' }], s).reply).toEqual({ kind: 'notHere' })
    // Nothing dispatched for it: the slots are as they were.
    expect(dispatches(taken.effects)).toEqual([])
  })

  it('does not mutate the state it is given', () => {
    const before = feed([enqueue('a'), enqueue('b'), enqueue('c')]).state
    const snapshot = JSON.stringify({ q: before.queue, a: [...before.active] })
    nextSupervisorState(before, { type: 'finished', executionId: 'a' })
    expect(JSON.stringify({ q: before.queue, a: [...before.active] })).toBe(snapshot)
  })

  it('locates an execution for a decision or a restart without moving it (unlike a cancel, which takes it out of the queue)', () => {
    const s = feed([enqueue('a'), enqueue('b'), enqueue('c'), { type: 'dispatched', executionId: 'a', workerId: 7 }]).state
    const at = (id: string) => feed([{ type: 'locate', executionId: id }], s)
    expect(at('a').reply).toEqual({ kind: 'onWorker', workerId: 7 })
    expect(at('b').reply).toEqual({ kind: 'dispatching' })
    expect(at('c').reply).toEqual({ kind: 'queued', index: 0 })
    expect(at('z').reply).toEqual({ kind: 'notHere' })
    const after = at('c')
    expect(after.state.queue).toEqual(['c'])
    expect(after.effects).toEqual([])
    expect(after.state.cancelRequested.size).toBe(0)
  })

  it('routes a cancel by where the execution is: on its worker, being handed over, queued, or not here', () => {
    const s = feed([enqueue('a'), enqueue('b'), enqueue('c'), { type: 'dispatched', executionId: 'a', workerId: 7 }]).state
    expect(feed([{ type: 'cancel', executionId: 'a' }], s).reply).toEqual({ kind: 'onWorker', workerId: 7 })
    const queued = feed([{ type: 'cancel', executionId: 'c' }], s)
    expect(queued.reply).toEqual({ kind: 'queued', index: 0 })
    expect(queued.state.queue).toEqual([])
    expect(feed([{ type: 'cancel', executionId: 'zz' }], s).reply).toEqual({ kind: 'notHere' })
    // Cancelled while being handed over: sent to its worker once it is there.
    const handing = feed([{ type: 'cancel', executionId: 'b' }, { type: 'dispatched', executionId: 'b', workerId: 3 }], s)
    expect(handing.effects).toEqual([{ type: 'cancelOnWorker', executionId: 'b', workerId: 3 }])
  })

  it('puts a queued execution whose cancel was refused back in its place', () => {
    const s = feed([enqueue('a'), enqueue('b'), enqueue('c'), enqueue('d'), { type: 'cancel', executionId: 'd' }]).state
    expect(feed([{ type: 'cancelRefused', executionId: 'd', index: 1 }], s).state.queue).toEqual(['c', 'd'])
  })

  it('recovers the executions of a crashed worker, frees their slots, and gives up after MAX_WORKER_CRASHES', () => {
    let state = feed([enqueue('a'), { type: 'dispatched', executionId: 'a', workerId: 1 }]).state
    for (let n = 1; n <= MAX_WORKER_CRASHES; n++) {
      const crash = feed([{ type: 'workerCrashed', workerId: n, executionIds: ['a'] }], state)
      expect(crash.effects).toEqual([{ type: 'recoverCrashed', executionId: 'a', crashes: n, giveUp: n === MAX_WORKER_CRASHES }, { type: 'idle' }])
      expect(crash.state.active.has('a')).toBe(false)
      state = feed([enqueue('a', true), { type: 'dispatched', executionId: 'a', workerId: n + 1 }], crash.state).state
    }
    expect(feed([{ type: 'settled', executionId: 'a' }], state).state.crashes.has('a')).toBe(false)
  })

  it('puts a recovered execution first in line', () => {
    const full = feed([enqueue('a'), enqueue('b'), enqueue('c'), { type: 'dispatched', executionId: 'a', workerId: 1 }], initialSupervisorState(1)).state
    const crash = feed([{ type: 'workerCrashed', workerId: 1, executionIds: ['a'] }], full)
    expect(dispatches(crash.effects)).toEqual(['b']) // its slot goes to the next in line meanwhile
    expect(feed([enqueue('a', true)], crash.state).state.queue).toEqual(['a', 'c'])
  })

  it('ignores a hand-over that a crash overtook', () => {
    const s = feed([enqueue('a'), { type: 'workerCrashed', workerId: 1, executionIds: ['a'] }, { type: 'dispatched', executionId: 'a', workerId: 1 }]).state
    expect(s.active.has('a')).toBe(false)
  })

  it('after shutdown, drops the queue and dispatches nothing more', () => {
    const { state } = feed([enqueue('a'), enqueue('b'), enqueue('c'), { type: 'shutdown' }, enqueue('d'), { type: 'finished', executionId: 'a' }])
    expect(state.queue).toEqual([])
    expect(state.accepting).toBe(false)
    expect([...state.active.keys()]).toEqual(['b'])
  })
})
