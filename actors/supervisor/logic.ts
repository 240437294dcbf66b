/**
 * The supervisor's pure transition: (state, message) → (state, effects, reply), over the queue of executions
 * waiting for a slot under `maxConcurrentWorkflows`, the active set (being handed to a worker, or on one) and the
 * crash counts. No I/O: the supervisor (supervisor.ts) performs the effects and reports back by message.
 */

import { assertNever } from '../../runtime/errors.ts'
import type { CancelPlan, SupervisorEffect, SupervisorInbox } from './inbox.ts'

/** A worker crash this many times over fails the execution (WORKER_CRASHED) instead of running it again. */
export const MAX_WORKER_CRASHES = 3

export interface SupervisorState {
  accepting: boolean
  /** Self-fenced (lease.ts): nothing is dispatched until the lease is renewed. */
  fenced: boolean
  /** The store refused a start at the cluster's cap (`cluster.maxConcurrentWorkflows`): nothing is dispatched until `uncapped`. */
  capped: boolean
  maxConcurrent: number
  /** Waiting for a slot, in order. */
  queue: string[]
  /** Taking a slot: the worker's id once on one, undefined while being handed over. */
  active: Map<string, number | undefined>
  /** Worker crashes each execution went through. */
  crashes: Map<string, number>
  /** Cancels that came while the execution was being handed over: sent once it is on its worker. */
  cancelRequested: Set<string>
}

export interface SupervisorStep {
  state: SupervisorState
  effects: SupervisorEffect[]
  /** The answer to `cancel`, `locate` and `taken`. */
  reply?: CancelPlan
}

export function initialSupervisorState(maxConcurrent: number): SupervisorState {
  return { accepting: true, fenced: false, capped: false, maxConcurrent, queue: [], active: new Map(), crashes: new Map(), cancelRequested: new Set() }
}

export function nextSupervisorState(prev: SupervisorState, m: SupervisorInbox): SupervisorStep {
  const s: SupervisorState = {
    ...prev, queue: [...prev.queue], active: new Map(prev.active), crashes: new Map(prev.crashes), cancelRequested: new Set(prev.cancelRequested),
  }
  const effects: SupervisorEffect[] = []
  let reply: CancelPlan | undefined
  switch (m.type) {
    case 'enqueue':
      if (s.accepting && !s.active.has(m.executionId) && !s.queue.includes(m.executionId)) {
        if (m.front) s.queue.unshift(m.executionId)
        else s.queue.push(m.executionId)
      }
      break
    case 'dispatched':
      // Not active any more: its worker died first, and its recovery has it.
      if (!s.active.has(m.executionId)) break
      s.active.set(m.executionId, m.workerId)
      if (s.cancelRequested.delete(m.executionId)) effects.push({ type: 'cancelOnWorker', executionId: m.executionId, workerId: m.workerId })
      break
    case 'released':
    case 'finished':
      s.active.delete(m.executionId)
      s.cancelRequested.delete(m.executionId)
      break
    case 'settled':
      s.crashes.delete(m.executionId)
      break
    case 'workerCrashed':
      for (const id of m.executionIds) {
        s.active.delete(id)
        s.cancelRequested.delete(id)
        const crashes = (s.crashes.get(id) ?? 0) + 1
        s.crashes.set(id, crashes)
        effects.push({ type: 'recoverCrashed', executionId: id, crashes, giveUp: crashes >= MAX_WORKER_CRASHES })
      }
      break
    case 'cancel':
      reply = planCancel(s, m.executionId)
      break
    case 'locate': {
      const workerId = s.active.get(m.executionId)
      reply = s.active.has(m.executionId)
        ? (workerId !== undefined ? { kind: 'onWorker', workerId } : { kind: 'dispatching' })
        : s.queue.includes(m.executionId) ? { kind: 'queued', index: s.queue.indexOf(m.executionId) } : { kind: 'notHere' }
      break
    }
    case 'taken': {
      const workerId = s.active.get(m.executionId)
      const index = s.queue.indexOf(m.executionId)
      if (index >= 0) s.queue.splice(index, 1)
      reply = s.active.has(m.executionId)
        ? (workerId !== undefined ? { kind: 'onWorker', workerId } : { kind: 'dispatching' })
        : index >= 0 ? { kind: 'queued', index } : { kind: 'notHere' }
      break
    }
    case 'cancelRefused':
      if (s.accepting && !s.active.has(m.executionId) && !s.queue.includes(m.executionId)) {
        s.queue.splice(Math.min(m.index, s.queue.length), 0, m.executionId)
      }
      break
    case 'shutdown':
      s.accepting = false
      s.queue = []
      break
    case 'fence':
      s.fenced = true
      break
    case 'unfence':
      s.fenced = false
      break
    case 'capped':
      // Its dispatch is over (released): it is first again once the cap lets a start through.
      // A cancel asked while it was being handed over stays asked: it follows it to its worker when it is dispatched.
      s.capped = true
      s.active.delete(m.executionId)
      if (s.accepting && !s.queue.includes(m.executionId)) s.queue.unshift(m.executionId)
      break
    case 'uncapped':
      s.capped = false
      break
    default:
      return assertNever(m)
  }
  // Fill the free slots, in queue order.
  while (s.accepting && !s.fenced && !s.capped && s.queue.length > 0 && s.active.size < s.maxConcurrent) {
    const id = s.queue.shift()!
    s.active.set(id, undefined)
    effects.push({ type: 'dispatch', executionId: id })
  }
  if (prev.active.size > 0 && s.active.size === 0) effects.push({ type: 'idle' })
  return reply ? { state: s, effects, reply } : { state: s, effects }
}

/** Where a cancel goes; a queued execution is taken out of the queue (its cancel is committed from the store). */
function planCancel(s: SupervisorState, id: string): CancelPlan {
  if (s.active.has(id)) {
    const workerId = s.active.get(id)
    if (workerId !== undefined) return { kind: 'onWorker', workerId }
    s.cancelRequested.add(id)
    return { kind: 'dispatching' }
  }
  const index = s.queue.indexOf(id)
  if (index < 0) return { kind: 'notHere' }
  s.queue.splice(index, 1)
  return { kind: 'queued', index }
}
