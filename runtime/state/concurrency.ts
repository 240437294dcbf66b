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

/** A workflow's executions that are not terminal, oldest first, as the store sees them in the transaction. */
export interface ActiveOfWorkflow {
  id: string
  /** Holds a slot: PENDING, RUNNING, or WAITING for anything but a slot. */
  holding: boolean
  /** A holder already asked to stop (cancel-oldest): its slot is freed once its processes are gone. */
  cancelRequested: boolean
}

/** What the store does with a new execution. */
export type CreateDecision =
  /** Runs now (PENDING): a slot is free and nobody waits before it. */
  | { kind: 'run' }
  /** Waits (WAITING, QUEUED_REASON) and starts when a slot frees, in creation order. */
  | { kind: 'queue'; cancel: CancelPlan }
  /** Created CANCELLED (CONCURRENCY_LIMIT): cancel-new. */
  | { kind: 'refuse' }

/** cancel-oldest: the holders asked to stop (their engine cancels them) and the waiting ones cancelled at once. */
export interface CancelPlan {
  holders: string[]
  queued: string[]
}

const NONE: CancelPlan = { holders: [], queued: [] }

/**
 * The decision for a new execution of a workflow with `policy`, given its active executions (oldest first).
 * FIFO: a new one runs only when a slot is free and none waits already. cancel-oldest makes room by stopping the
 * oldest executions that are not being stopped yet (holders first, then waiting ones), as many as it takes for the
 * new one to be next; the new one waits until their slots are free.
 */
export function decideCreate(policy: ConcurrencyPolicy, active: readonly ActiveOfWorkflow[]): CreateDecision {
  const holding = active.filter((e) => e.holding)
  const queued = active.filter((e) => !e.holding)
  if (holding.length < policy.limit && queued.length === 0) return { kind: 'run' }
  if (policy.behavior === 'queue') return { kind: 'queue', cancel: NONE }
  if (policy.behavior === 'cancel-new') return { kind: 'refuse' }
  const staying = holding.filter((e) => !e.cancelRequested)
  // After the stops, the ones staying plus the waiting ones plus the new one must fit in the limit.
  let excess = staying.length + queued.length + 1 - policy.limit
  const plan: CancelPlan = { holders: [], queued: [] }
  for (const e of staying) if (excess > 0) { plan.holders.push(e.id); excess-- }
  for (const e of queued) if (excess > 0) { plan.queued.push(e.id); excess-- }
  return { kind: 'queue', cancel: plan }
}

/**
 * Whether the waiting execution `id` may take a slot now: a slot is free, and it is the oldest waiting one (FIFO,
 * whichever engine holds the others). `active` includes `id`.
 */
export function mayAdmit(limit: number, active: readonly ActiveOfWorkflow[], id: string): boolean {
  const holding = active.filter((e) => e.holding).length
  const firstQueued = active.find((e) => !e.holding)
  return holding < limit && firstQueued?.id === id
}
