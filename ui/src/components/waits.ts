/**
 * When each task run was WAITING, and why, from the execution's audit trail (every task transition is audited with
 * `{ from, to, reason }`): a retry's backoff, a task slot, a durable wait, an approval, a subflow. Pure, so the
 * timeline draws what the store recorded rather than guessing from attempt gaps.
 */
import type { AuditRecord } from '../types.ts'

export interface WaitSpan { start: number; end?: number; reason: string }

interface Transition { to?: unknown; reason?: unknown }

const transitionOf = (data: unknown): Transition | undefined =>
  typeof data === 'object' && data !== null && 'to' in data ? (data as Transition) : undefined

/** Per run path, its waits in time order; one still open has no `end`. */
export function waitSpans(events: readonly AuditRecord[]): Map<string, WaitSpan[]> {
  const out = new Map<string, WaitSpan[]>()
  for (const e of [...events].sort((a, b) => a.ts - b.ts || a.id - b.id)) {
    if (e.taskId === undefined) continue
    const t = transitionOf(e.data)
    if (!t || typeof t.to !== 'string') continue
    const spans = out.get(e.taskId) ?? []
    const open = spans.at(-1)
    if (open && open.end === undefined) open.end = e.ts
    if (t.to === 'WAITING') spans.push({ start: e.ts, reason: typeof t.reason === 'string' ? t.reason : 'WAITING' })
    if (spans.length) out.set(e.taskId, spans)
  }
  return out
}
