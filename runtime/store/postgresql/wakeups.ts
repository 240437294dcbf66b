/**
 * Wake-ups between the nodes of a cluster (Store.listen), on PostgreSQL's LISTEN/NOTIFY: after a commit, the
 * executions it asked something about (requestCancel, requestDecision) or ended go out on one channel, as
 * `a:<id>` and `e:<id>` words, and `q` once when it created any (idle nodes look for queued work); a claim of queued
 * work (queue-claims.ts) sends `c:<id>@<engine>` words, in notifications under PostgreSQL's 8000-byte payload limit. Sent after the commit,
 * not in its transaction (a failed notification never fails a commit, and adds nothing to its latency); a lost one
 * costs latency only: every watcher and waiter polls the store as before.
 */

import type { SQL } from 'bun'
import { isTerminalExecution } from '../../state/states.ts'
import type { CommitBatch, TransitionResult } from '../checkpoint.ts'
import type { StoreWakeup } from '../store.ts'

export const WAKE_CHANNEL = 'autokestra_wake'
/** Well under the 8000-byte limit: an id is ~23 bytes. */
const MAX_PAYLOAD = 7000

/** What a committed batch has to tell other engines (nothing when no transition asked or ended anything). */
export function wakeupsOf(batch: CommitBatch, results: TransitionResult[][]): StoreWakeup {
  const asked: string[] = []
  const ended: string[] = []
  let created = false
  batch.requests.forEach((request, i) => request.transitions.forEach((t, j) => {
    const r = results[i]?.[j]
    if (!r?.ok || !r.changed) return
    if (t.kind === 'requestCancel' || t.kind === 'requestDecision') asked.push(t.executionId)
    else if (t.kind === 'execution' && isTerminalExecution(t.to)) ended.push(t.executionId)
    else if (t.kind === 'create') created = true
  }))
  return { asked, ended, created, claimed: [] }
}

/** The notifications' payloads for `w` (none when it is empty). */
export function payloadsOf(w: StoreWakeup): string[] {
  const words = [...(w.created ? ['q'] : []), ...w.asked.map((id) => `a:${id}`), ...w.ended.map((id) => `e:${id}`),
    ...w.claimed.map((c) => `c:${c.id}@${c.by}`)]
  const out: string[] = []
  let cur = ''
  for (const word of words) {
    if (cur && cur.length + word.length + 1 > MAX_PAYLOAD) {
      out.push(cur)
      cur = ''
    }
    cur = cur ? `${cur} ${word}` : word
  }
  if (cur) out.push(cur)
  return out
}

/** A payload read back; words it does not know are skipped (a newer engine may send more). */
export function parsePayload(payload: string): StoreWakeup {
  const w: StoreWakeup = { asked: [], ended: [], created: false, claimed: [] }
  for (const word of payload.split(' ')) {
    if (word === 'q') w.created = true
    else if (word.startsWith('c:') && word.includes('@')) {
      // An execution id has no '@'; the engine id after it may.
      const at = word.indexOf('@')
      w.claimed.push({ id: word.slice(2, at), by: word.slice(at + 1) })
    } else if (word.startsWith('a:')) w.asked.push(word.slice(2))
    else if (word.startsWith('e:')) w.ended.push(word.slice(2))
  }
  return w
}

/** Sends `w` (fire and forget: a failure is a lost wake-up, which polling covers). */
export function notify(pool: SQL, w: StoreWakeup): void {
  for (const p of payloadsOf(w)) void pool.notify(WAKE_CHANNEL, p).catch(() => {})
}

/** Listens on the channel until the returned function is called; reconnects are Bun.sql's (re-LISTEN included). */
export async function listen(pool: SQL, onWake: (w: StoreWakeup) => void): Promise<() => Promise<void>> {
  const sub = await pool.listen(WAKE_CHANNEL, (payload) => {
    try { onWake(parsePayload(payload)) } catch { /* a listener's failure is its own */ }
  })
  return () => sub.unlisten()
}
