/**
 * An idle node takes queued work (docs/scale-out.md): where engines on several hosts share the store (PostgreSQL's
 * `claimQueued`), an engine with free slots under `execution.maxConcurrentWorkflows` takes executions other live
 * engines created and have not started for `QUEUED_CLAIM_AFTER_MS` (their creator is full, or stalled), oldest
 * first, and queues them here; they become this engine's in the same transaction. It looks when another node's
 * creation is announced (Store.listen: once for a burst, when they may be taken), when a slot here comes free, and
 * every `QUEUED_CLAIM_POLL_MS` while it has room. The creator, when it comes to one of them, finds it is no longer
 * its own and lets it go (dispatcher.ts).
 */

import type { Clock } from '../../runtime/clock.ts'
import type { Store } from '../../runtime/store/store.ts'
import { PollLoop, WAKE_SOON_MS } from './poll-loop.ts'

/** How long an execution stays PENDING on its creator before another engine may take it. */
export const QUEUED_CLAIM_AFTER_MS = 250
/** How often an engine with free slots looks for queued work without being told of any. */
export const QUEUED_CLAIM_POLL_MS = 1000

export interface QueueClaimsDeps {
  store: Store
  clock: Clock
  /** This engine (its lease's owner). */
  owner: string
  /** How many more executions this engine may start now: 0 while fenced or shutting down. */
  free(): number
  /** Holds and queues the claimed executions here, resolving once the supervisor counts them (so `free` does). */
  enqueue(claimed: { id: string; workflowId: string }[]): Promise<void>
}

export class QueueClaims {
  private readonly loop: PollLoop | undefined
  /** Executions this engine took from others so far (stats, tests). */
  claimed = 0

  constructor(private readonly d: QueueClaimsDeps) {
    if (!d.store.executions.claimQueued) return
    this.loop = new PollLoop({ clock: d.clock, ms: QUEUED_CLAIM_POLL_MS, due: () => d.free() > 0, pass: () => this.pass() })
  }

  start(): void {
    this.loop?.start()
  }

  stop(): void {
    this.loop?.stop()
  }

  /** Another node created executions: a look once they may be taken (one for a burst), if there is room here. */
  created(): void {
    if (this.d.free() > 0) this.loop?.wakeSoon(QUEUED_CLAIM_AFTER_MS + WAKE_SOON_MS)
  }

  /** A slot here came free. */
  wake(): void {
    if (this.d.free() > 0) this.loop?.wakeSoon(WAKE_SOON_MS)
  }

  /** Settles once no look is running (tests, shutdown). */
  idle(): Promise<void> {
    return this.loop?.idle() ?? Promise.resolve()
  }

  private async pass(): Promise<void> {
    const limit = this.d.free()
    if (limit <= 0) return
    const now = this.d.clock.now()
    const claimed = await this.d.store.executions.claimQueued!(this.d.owner, { limit, queuedBefore: now - QUEUED_CLAIM_AFTER_MS, now })
    if (claimed.length === 0) return
    this.claimed += claimed.length
    await this.d.enqueue(claimed)
  }
}
