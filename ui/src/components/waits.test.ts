/** waitSpans: the waits of each run from its audited transitions, closed by the next one, left open at the end. */
import { describe, expect, it } from 'bun:test'
import type { AuditRecord } from '../types.ts'
import { waitSpans } from './waits.ts'

let id = 0
const ev = (ts: number, taskId: string | undefined, data: unknown, type = 'STATE_CHANGE'): AuditRecord =>
  ({ id: ++id, ts, type, ...(taskId !== undefined ? { taskId } : {}), data })

describe('waitSpans', () => {
  it('opens a span on WAITING with its reason and closes it at the run\'s next transition; an open one has no end', () => {
    const spans = waitSpans([
      ev(10, 'a', { from: 'PENDING', to: 'RUNNING', attempt: 1 }, 'STARTED'),
      ev(20, 'a', { from: 'RUNNING', to: 'WAITING', reason: 'RETRY_BACKOFF', attempt: 1 }),
      ev(5, undefined, { to: 'RUNNING' }, 'STARTED'), // the execution's: no task
      ev(30, 'a', { from: 'WAITING', to: 'RUNNING', attempt: 2 }, 'STARTED'),
      ev(40, 'a', { from: 'RUNNING', to: 'SUCCESS', attempt: 2 }, 'COMPLETED'),
      ev(12, 'gate', { from: 'PENDING', to: 'WAITING', reason: 'APPROVAL' }),
      ev(15, 'b', { from: 'PENDING', to: 'WAITING', reason: 'CONCURRENCY_LIMIT' }),
      ev(18, 'b', { from: 'WAITING', to: 'WAITING', reason: 'TIMER' }),
      ev(19, 'c', { note: 'no transition' }, 'PERMISSION_DENIED'),
    ])
    expect(Object.fromEntries(spans)).toEqual({
      a: [{ start: 20, end: 30, reason: 'RETRY_BACKOFF' }],
      gate: [{ start: 12, reason: 'APPROVAL' }],
      b: [{ start: 15, end: 18, reason: 'CONCURRENCY_LIMIT' }, { start: 18, reason: 'TIMER' }],
    })
  })
})
