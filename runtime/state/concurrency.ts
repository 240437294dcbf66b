/**
 * The per-workflow concurrency rule (`concurrency: { limit, behavior }`): pure, over what the store counts inside
 * the transaction that creates or admits an execution — never over one engine's memory, so two engines on one
 * store cannot both take the last slot. The supervisor's admission (actors/supervisor/admission.ts) is the front of
 * it; every backend applies it in its commit (runtime/store/checkpoint.ts: `create`, `admit`).
 */
import type { ConcurrencyPolicy } from '../workflow/model.ts'
import { WaitReason } from './states.ts'

/** An execution waiting for a slot of its workflow's `concurrency` (execution state WAITING with this reason). */
export const QUEUED_REASON = WaitReason.WorkflowConcurrency

/** A workflow's executions that are not terminal, as the store counts them in the transaction. */
export interface SlotCounts {
  /** Holding a slot: PENDING, RUNNING, or WAITING for anything but a slot. */
  holding: number
  /** Holders asked to stop already (cancel-oldest): their slots free once their processes are gone. */
  stopping: number
  /** Waiting for a slot (WAITING, QUEUED_REASON). */
  queued: number
}

/** What the store does with a new execution. */
export type CreateDecision =
  /** Runs now (PENDING): a slot is free and nobody waits before it. */
  | { kind: 'run' }
  /**
   * Waits (WAITING, QUEUED_REASON) and starts when a slot frees, in creation order; cancel-oldest first asks the
   * `stopHolders` oldest holders not being stopped to stop, and cancels the `cancelQueued` oldest waiting ones.
   */
  | { kind: 'queue'; stopHolders: number; cancelQueued: number }
  /** Created CANCELLED (CONCURRENCY_LIMIT): cancel-new. */
  | { kind: 'refuse' }

/**
 * The decision for a new execution of a workflow with `policy`. FIFO: a new one runs only when a slot is free and
 * none waits already. cancel-oldest makes room by stopping the oldest executions that are not being stopped yet
 * (holders first, then waiting ones), as many as it takes for the new one to be next; the new one waits until
 * their slots are free.
 */
export function decideCreate(policy: ConcurrencyPolicy, c: SlotCounts): CreateDecision {
  if (c.holding < policy.limit && c.queued === 0) return { kind: 'run' }
  if (policy.behavior === 'queue') return { kind: 'queue', stopHolders: 0, cancelQueued: 0 }
  if (policy.behavior === 'cancel-new') return { kind: 'refuse' }
  const staying = c.holding - c.stopping
  // After the stops, the ones staying plus the waiting ones plus the new one must fit in the limit.
  const excess = Math.max(0, staying + c.queued + 1 - policy.limit)
  const stopHolders = Math.min(excess, staying)
  return { kind: 'queue', stopHolders, cancelQueued: Math.min(excess - stopHolders, c.queued) }
}

/**
 * Whether a waiting execution may take a slot now: with `limit - holding` slots free, the as many oldest waiting
 * ones may (FIFO, whichever engine holds the others). `rank` is its place among the waiting ones, oldest first
 * (0 for the oldest; -1 when it is not among those asked about). Not "only the oldest": when two slots free, the two
 * oldest take them in whatever order their admits commit (two nodes race), and no younger one ever passes an older one.
 */
export function mayAdmit(limit: number, holding: number, rank: number): boolean {
  return rank >= 0 && rank < limit - holding
}

/** How many of the oldest waiting executions `mayAdmit` needs to see to rank one: the free slots (at least 1). */
export function admissionWindow(limit: number, holding: number): number {
  const free = limit - holding
  return Number.isFinite(free) ? Math.max(1, free) : 1
}
