/**
 * Work claimed across nodes (docs/scale-out.md, "An idle node takes queued work"): an engine with free slots takes
 * executions another live engine holds but has not started — still PENDING, queued there since before a cutoff (that
 * engine is at its `maxConcurrentWorkflows`, or stalled) — oldest first. The caller runs it under the commit lock, so
 * a creator's RUNNING commit of the same execution comes wholly before (the row is RUNNING, not taken) or wholly
 * after (fenced: the row is the claimer's, CONFLICT); `FOR UPDATE SKIP LOCKED` keeps claimers from waiting on one
 * another's rows once that lock is narrowed (docs/scale-out.md, "The design of what is left"). Nothing of it has run,
 * so the move needs no lease to expire; it is audited CLAIMED_QUEUED (`from`, `to`), apart from CLAIMED (takeovers,
 * only after the lease).
 */

import { AuditType } from '../../state/states.ts'
import { AuditRepo } from './audit.ts'
import type { Q } from './sql.ts'

export interface QueueClaim {
  /** The claiming engine. */
  owner: string
  /** At most this many. */
  limit: number
  /**
   * Only executions queued (created, or claimed by their engine) at or before this (ms), by their `updated_at`:
   * younger ones are their engine's to start, and one claimed just now is not claimed again at once.
   */
  queuedBefore: number
  now: number
}

/** Which executions may be taken (the claim's own condition, without its locks): a look that takes no lock. */
const CLAIMABLE = `x.state = 'PENDING' AND x.owner <> ? AND x.revision > 0 AND x.updated_at <= ? AND e.lease_until >= ?`

/** Whether `claimQueued` would find anything: read without the commit lock, so an idle node's look costs no commit. */
export async function anyClaimable(q: Q, c: QueueClaim): Promise<boolean> {
  if (c.limit <= 0) return false
  return (await q.get(`SELECT 1 AS x FROM executions x JOIN engines e ON e.id = x.owner WHERE ${CLAIMABLE} LIMIT 1`,
    [c.owner, c.queuedBefore, c.now])) !== undefined
}

/** Inside a write (store.ts): its audit rows are sent, and the write waits for them. */
export async function claimQueued(q: Q, c: QueueClaim): Promise<{ id: string; workflowId: string }[]> {
  if (c.limit <= 0) return []
  // Revision 0 is an inline workflow (`workflow run` of a file): its subflows' children resolve in its engine only.
  const rows = await q.all<{ id: string; workflow_id: string; created_at: number | string; from_owner: string }>(
    `WITH picked AS (
        SELECT x.id, x.owner FROM executions x JOIN engines e ON e.id = x.owner
         WHERE ${CLAIMABLE}
         ORDER BY x.created_at, x.id
         FOR UPDATE OF x SKIP LOCKED
         LIMIT ?)
      UPDATE executions SET owner = ?, updated_at = ? FROM picked
       WHERE executions.id = picked.id AND executions.state = 'PENDING'
      RETURNING executions.id, executions.workflow_id, executions.created_at, picked.owner AS from_owner`,
    [c.owner, c.queuedBefore, c.now, c.limit, c.owner, c.now])
  const audit = new AuditRepo(q)
  for (const r of rows) audit.send(c.now, AuditType.ClaimedQueued, { executionId: r.id, workflowId: r.workflow_id }, { from: r.from_owner, to: c.owner })
  // Oldest first, as picked (RETURNING keeps no order).
  return rows.sort((a, b) => Number(a.created_at) - Number(b.created_at) || (a.id < b.id ? -1 : 1)).map((r) => ({ id: r.id, workflowId: r.workflow_id }))
}
