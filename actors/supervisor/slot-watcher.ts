/**
 * This engine's side of per-workflow concurrency (the rule itself is the store's: runtime/state/concurrency.ts).
 * It holds which of its executions wait for a slot (WAITING, WORKFLOW_CONCURRENCY) and asks the store to admit the
 * oldest of each workflow when a slot may have freed — at once when one of its own executions ends, and on a short
 * poll for slots freed by another engine on the same store; and it cancels its executions a newer one asked to
 * stop (cancel-oldest), wherever that one was created. The set is only a list of what to ask about: every count is
 * the store's, inside the commit, so two engines never exceed a limit.
 */

import type { Clock } from '../../runtime/clock.ts'
import type { Transition, TransitionResult } from '../../runtime/store/checkpoint.ts'
import type { Store } from '../../runtime/store/store.ts'
import { PollLoop, WAKE_SOON_MS } from './poll-loop.ts'

/** How often the store is asked about slots freed elsewhere and cancel requests, while there is something to ask. */
export const SLOT_POLL_MS = 250

export interface SlotWatcherDeps {
  store: Store
  clock: Clock
  /** This engine's lease owner id (cancel requests are read for it). */
  owner: string
  commit(transitions: Transition[]): Promise<TransitionResult[]>
  /** An admitted execution (RUNNING now) goes to the supervisor's queue. */
  enqueue(executionId: string): void
  cancel(executionId: string, reason: string): Promise<unknown>
  /** Whether this engine runs anything (cancel requests can only concern what it holds). */
  busy(): boolean
  pollMs?: number
}

export class SlotWatcher {
  /** Waiting execution → its workflow, for this engine. */
  private readonly parked = new Map<string, string>()
  /** Each workflow's concurrency limit, as last seen: how many of its waiting ones one round asks for (else 1). */
  private readonly limits = new Map<string, number>()
  /** Cancel requests acted on already (until the execution is gone). */
  private readonly stopping = new Set<string>()
  private readonly poll: PollLoop

  constructor(private readonly deps: SlotWatcherDeps) {
    this.poll = new PollLoop({
      clock: deps.clock, ms: deps.pollMs ?? SLOT_POLL_MS, pass: () => this.pass(),
      due: () => this.parked.size > 0 || deps.busy(),
    })
  }

  get waiting(): number {
    return this.parked.size
  }

  /** Starts the poll loop (it asks the store only while something waits here or this engine runs something). */
  start(): void {
    this.poll.start()
  }

  stop(): void {
    this.poll.stop()
  }

  /** `executionId` of `workflowId` waits for a slot on this engine; `limit`, its workflow's, when known. */
  park(executionId: string, workflowId: string, limit?: number): void {
    this.parked.set(executionId, workflowId)
    if (limit !== undefined) this.limits.set(workflowId, limit)
    this.wake()
  }

  /** Something may have changed (an execution ended here, one was created): ask now. */
  wake(): void {
    this.poll.wake()
  }

  /** An execution ended on another node (a notification): a slot may be free; asked within WAKE_SOON_MS. */
  wakeSoon(): void {
    this.poll.wakeSoon(WAKE_SOON_MS)
  }

  /** Settles once no pass is running (tests, shutdown). */
  idle(): Promise<void> {
    return this.poll.idle()
  }

  private async pass(): Promise<void> {
    try {
      await this.cancelRequested()
      // Admit until nothing more goes: each round asks, in one commit, for the waiting executions of each workflow
      // that may go — this engine's among the workflow's oldest waiting ones in the store's order (waitingOrder: by
      // when their creation committed, whichever engine holds them) first, then its own oldest by id, as many as the
      // limit in all (a cancelled one among them answers INVALID_TRANSITION and leaves the set). Asking only by its own
      // order stalled admission across nodes: two nodes' creations commit in either order, so the oldest by id here
      // were not the ones the store would let go. The store takes them in the order asked, each counted after the
      // ones before it in the transaction, so every slot that is free is taken in this one commit; the rest answer
      // "no slot yet".
      for (;;) {
        const byWorkflow = new Map<string, string[]>()
        const mine = [...this.parked].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        const workflows = [...new Set(mine.map(([, wf]) => wf))]
        const orders = await Promise.all(workflows.map((wf) => this.deps.store.executions.waitingOrder(wf, this.limits.get(wf) ?? 1)))
        workflows.forEach((wf, i) => byWorkflow.set(wf, orders[i]!.filter((id) => this.parked.get(id) === wf)))
        for (const [id, wf] of mine) {
          const list = byWorkflow.get(wf)!
          if (list.length < (this.limits.get(wf) ?? 1) && !list.includes(id)) list.push(id)
        }
        if (byWorkflow.size === 0) return
        const ids = [...byWorkflow.values()].flat()
        const results = await this.deps.commit(ids.map((executionId) => ({ kind: 'admit', executionId })))
        let again = false
        results.forEach((r, i) => {
          const id = ids[i]!
          if (r.ok && !r.changed) return // no slot yet
          const wf = this.parked.get(id)
          this.parked.delete(id)
          // Admitted (RUNNING), or not waiting any more (cancelled meanwhile): the queue dispatches or lets it go.
          if (r.ok || r.error.code === 'INVALID_TRANSITION') this.deps.enqueue(id)
          // Every one asked for went: more of its workflow may fit.
          if (wf !== undefined && r.ok && byWorkflow.get(wf)?.at(-1) === id && [...this.parked.values()].includes(wf)) again = true
        })
        if (!again) return
      }
    } catch {
      // The store could not be read or written: the next poll asks again.
    }
  }

  private async cancelRequested(): Promise<void> {
    if (!this.deps.busy() && this.parked.size === 0) return
    const requests = await this.deps.store.executions.cancelRequests(this.deps.owner)
    const asked = new Set(requests.map((r) => r.id))
    for (const id of this.stopping) if (!asked.has(id)) this.stopping.delete(id)
    for (const r of requests) {
      if (this.stopping.has(r.id)) continue
      this.stopping.add(r.id)
      this.parked.delete(r.id)
      void this.deps.cancel(r.id, r.error.message).catch(() => this.stopping.delete(r.id))
    }
  }
}
