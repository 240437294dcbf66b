/**
 * `?wait=<duration>` on a start: the duration checked and bounded by `server.maxWaitSeconds`, and the wait itself, on
 * the engine's events (Engine.waitFor) — never a poll of the store — ended by the execution's end, the deadline or
 * the client hanging up, whichever comes first, with nothing left listening afterwards.
 */
import type { Engine } from '../../actors/engine-types.ts'
import { parseDuration, type Clock } from '../../runtime/clock.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { ExecutionRecord } from '../../runtime/store/types.ts'

/**
 * The wait in ms: `text` is a duration as in workflows (`30s`, `1500ms`, `2m`), cut to `maxMs`. INVALID_INPUT at
 * `query.wait` for anything else (an empty value, a number without a unit, a negative one).
 */
export function parseWait(text: string, maxMs: number): number {
  const ms = parseDuration(text)
  if (ms === undefined) {
    throw new AppError(ErrorCode.InvalidInput,
      `query.wait: expected a duration such as 30s, 1500ms or 2m (at most ${maxMs / 1000}s), got "${text.slice(0, 100)}"`,
      { path: 'query.wait', maxSeconds: maxMs / 1000 })
  }
  return Math.min(ms, maxMs)
}

/** How a wait ended: the execution is terminal (`ended`), or it still runs when the wait expired or the client left. */
export type WaitOutcome = { kind: 'ended'; execution: ExecutionRecord } | { kind: 'expired' } | { kind: 'abandoned' }

/** Waits up to `ms` for `executionId` to end; `signal` is the request's (it aborts when the client disconnects). */
export async function waitForEnd(engine: Engine, clock: Clock, executionId: string, ms: number, signal?: AbortSignal): Promise<WaitOutcome> {
  const stop = new AbortController()
  const leave = () => stop.abort(new AppError(ErrorCode.Cancelled, 'the client went away'))
  if (signal?.aborted) return { kind: 'abandoned' }
  signal?.addEventListener('abort', leave, { once: true })
  let expired = false
  const deadline = clock.sleep(ms, stop.signal).then(() => {
    expired = true
    stop.abort(new AppError(ErrorCode.Cancelled, 'the wait expired'))
  }, () => {})
  try {
    return { kind: 'ended', execution: await engine.waitFor(executionId, { signal: stop.signal }) }
  } catch (e) {
    if (!stop.signal.aborted) throw e
    return expired ? { kind: 'expired' } : { kind: 'abandoned' }
  } finally {
    signal?.removeEventListener('abort', leave)
    stop.abort() // the deadline's timer goes too
    await deadline
  }
}
