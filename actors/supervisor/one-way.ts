/**
 * The SupervisorPort's fire-and-forget calls (`endTask`, `log`, `executionFinished`) as one-way messages on the
 * worker's comlink port. Comlink answers every call, even one returning nothing: that answer cost the main thread a
 * structured clone and a postMessage, and the worker a wake-up to read it, once per task (issue 14: W1 at
 * `execution`). A one-way message is posted on the same port as comlink's calls, so its order with them is kept:
 * the main thread runs both listeners synchronously per message, in arrival order (an `endTask`'s lines and slot
 * are handled before the `checkpointAndBegin` posted after it). Comlink ignores a message whose type it does not
 * know; this listener ignores everything but a one-way message naming one of the three calls.
 */

import type { SupervisorPort } from './protocol.ts'

export const ONE_WAY_TYPE = 'AUTOKESTRA_ONE_WAY'

/** The calls that go one way: each returns nothing, and no caller waits for it. */
const ONE_WAY_CALLS = ['endTask', 'log', 'executionFinished'] as const
type OneWayCall = (typeof ONE_WAY_CALLS)[number]

interface OneWayMessage {
  type: typeof ONE_WAY_TYPE
  call: OneWayCall
  args: unknown[]
}

function isOneWay(data: unknown): data is OneWayMessage {
  if (typeof data !== 'object' || data === null) return false
  const m = data as Partial<OneWayMessage>
  return m.type === ONE_WAY_TYPE && (ONE_WAY_CALLS as readonly unknown[]).includes(m.call) && Array.isArray(m.args)
}

/**
 * The worker's SupervisorPort: `remote` (comlink's proxy of the port) for the calls that answer, one-way messages
 * on `port` for the others. A one-way message waits for the next call that answers (posted just before it, in the
 * same turn) or for the end of this turn: a task's `endTask` then reaches the main thread with the execution's
 * `checkpointAndBegin` that follows it, in one wake-up of that thread instead of two. Program order is kept: every
 * call first posts what is queued.
 */
export function oneWayPort(port: MessagePort, remote: SupervisorPort): SupervisorPort {
  let queued: OneWayMessage[] = []
  const flush = () => {
    const out = queued
    queued = []
    for (const m of out) port.postMessage(m)
  }
  const send = (call: OneWayCall, args: unknown[]) => {
    if (queued.push({ type: ONE_WAY_TYPE, call, args }) === 1) setImmediate(flush)
  }
  return {
    checkpoint: (t) => { flush(); return remote.checkpoint(t) },
    checkpointAndBegin: (t, begins) => { flush(); return remote.checkpointAndBegin(t, begins) },
    beginTask: (req) => { flush(); return remote.beginTask(req) },
    endTask: (executionId, taskId, lines) => send('endTask', lines?.length ? [executionId, taskId, lines] : [executionId, taskId]),
    log: (lines) => send('log', [lines]),
    resolveSecrets: (executionId, names) => { flush(); return remote.resolveSecrets(executionId, names) },
    executionFinished: (executionId) => send('executionFinished', [executionId]),
    startChild: (request) => { flush(); return remote.startChild(request) },
  }
}

/**
 * The main thread's end: runs each one-way call on `impl` as it arrives. A throw is reported, never sent back
 * (nobody waits for it: with comlink it was an unhandled rejection in the worker).
 */
export function exposeOneWay(port: MessagePort, impl: SupervisorPort, report: (e: unknown) => void = (e) => console.error('one-way port call failed:', e)): void {
  port.addEventListener('message', (ev: Event) => {
    const m: unknown = (ev as MessageEvent).data
    if (!isOneWay(m)) return
    try {
      const out: unknown = (impl[m.call] as (...args: unknown[]) => unknown)(...m.args)
      if (out instanceof Promise) out.catch(report)
    } catch (e) {
      report(e)
    }
  })
}
