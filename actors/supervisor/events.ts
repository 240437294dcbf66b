/**
 * The engine's events: state changes and log lines, published after they are committed (for SSE, metrics and
 * `workflow run`), and the callers waiting for an execution to end.
 */

import { isTerminalExecution, isTerminalTask } from '../../runtime/state/states.ts'
import type { ExecutionRecord } from '../../runtime/store/types.ts'
import type { EngineEvent } from '../engine-types.ts'
import type { Committed } from './batcher.ts'

export interface EventHubDeps {
  /** The execution as committed (what waiters get). */
  read(executionId: string): Promise<ExecutionRecord | undefined>
  /** A task reached a terminal state. */
  taskEnded(executionId: string, taskId: string): void
  /** An execution reached a terminal state. */
  settled(executionId: string): void
  /**
   * Whether an execution this engine runs may be taken from it (a node of a cluster, which fences itself when cut off
   * from the store): then its waiters read its end from the store too, not only from this engine's events.
   */
  mayLoseExecutions?: boolean
}

/** How often a waiter re-reads an execution another engine runs (its end is that engine's event, not ours). */
export const ELSEWHERE_POLL_MS = 1000

export class EventHub {
  private readonly listeners = new Set<(e: EngineEvent) => void>()
  private readonly waiters = new Map<string, ((r: ExecutionRecord) => void)[]>()
  /** The workflow of each execution this engine runs, for its events. */
  private readonly workflowOf = new Map<string, string>()

  constructor(private readonly deps: EventHubDeps) {}

  /** This engine runs `executionId` now. */
  track(executionId: string, workflowId: string): void {
    this.workflowOf.set(executionId, workflowId)
  }

  /** Another engine runs `executionId` now (it took it over while this one was fenced): its end is that engine's. */
  untrack(executionId: string): void {
    this.workflowOf.delete(executionId)
  }

  /** The executions this engine holds. */
  tracked(): string[] {
    return [...this.workflowOf.keys()]
  }

  tracks(executionId: string): boolean {
    return this.workflowOf.has(executionId)
  }

  /** How many executions this engine holds (running, queued or parked). */
  get tracking(): number {
    return this.workflowOf.size
  }

  subscribe(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * Resolves with the record once the execution is terminal; undefined when there is no such execution. A `signal`
   * that aborts first (a client that hung up, a wait that expired) rejects with its reason and takes the waiter
   * away, so callers that give up leave nothing behind.
   */
  async waitFor(executionId: string, signal?: AbortSignal): Promise<ExecutionRecord | undefined> {
    signal?.throwIfAborted()
    // Listen first, then read: the execution may end between the two, and its end must not be missed.
    let resolve!: (r: ExecutionRecord) => void
    let reject!: (e: unknown) => void
    const done = new Promise<ExecutionRecord>((res, rej) => ((resolve = res), (reject = rej)))
    done.catch(() => {}) // an abort after the read found it terminal has nobody to tell
    const waiter = (r: ExecutionRecord) => resolve(r)
    this.waiters.set(executionId, [...(this.waiters.get(executionId) ?? []), waiter])
    const gaveUp = () => {
      this.dropWaiter(executionId, waiter)
      reject(signal!.reason)
    }
    signal?.addEventListener('abort', gaveUp, { once: true })
    const poll = new AbortController()
    try {
      const rec = await this.deps.read(executionId)
      if (rec && !isTerminalExecution(rec.state)) {
        // Run by another engine (a node of the cluster), or by this one where it may lose it to another (a takeover
        // while it was fenced): its end is read from the store, unless it comes here first.
        if (!this.workflowOf.has(executionId) || this.deps.mayLoseExecutions) void this.pollEnd(executionId, waiter, poll.signal)
        return await done
      }
      this.dropWaiter(executionId, waiter)
      return rec
    } finally {
      poll.abort()
      signal?.removeEventListener('abort', gaveUp)
    }
  }

  /** Re-reads the execution every ELSEWHERE_POLL_MS until it is terminal (then tells `waiter`) or `signal` aborts. */
  private async pollEnd(executionId: string, waiter: (r: ExecutionRecord) => void, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ELSEWHERE_POLL_MS)
        signal.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
      })
      if (signal.aborted) return
      const rec = await this.deps.read(executionId).catch(() => undefined)
      if (rec && isTerminalExecution(rec.state) && !signal.aborted) {
        this.dropWaiter(executionId, waiter)
        waiter(rec)
        return
      }
    }
  }

  /**
   * Another engine ended `executionId` (a store wake-up: Store.listen): its waiters here read it now, not at their
   * next poll. Nothing for an execution this engine runs (its own end comes as its event) or nobody waits for.
   */
  async endedElsewhereNotice(executionId: string): Promise<void> {
    if (this.workflowOf.has(executionId) || !this.waiters.has(executionId)) return
    const rec = await this.deps.read(executionId).catch(() => undefined)
    if (!rec || !isTerminalExecution(rec.state)) return
    const list = this.waiters.get(executionId) ?? []
    this.waiters.delete(executionId)
    for (const w of list) w(rec)
  }

  /** Callers waiting for an execution to end (what `waitFor` holds). */
  get waiting(): number {
    let n = 0
    for (const list of this.waiters.values()) n += list.length
    return n
  }

  private dropWaiter(executionId: string, waiter: (r: ExecutionRecord) => void): void {
    const left = (this.waiters.get(executionId) ?? []).filter((w) => w !== waiter)
    if (left.length) this.waiters.set(executionId, left)
    else this.waiters.delete(executionId)
  }

  /** What a commit changed, as events (refused and repeated transitions say nothing). */
  publish(c: Committed): void {
    for (const { transition: t, result } of c.applied) {
      if (!result.ok || !result.changed) continue
      if (t.kind === 'execution') {
        this.emit({ type: 'execution', executionId: t.executionId, workflowId: this.workflowOf.get(t.executionId) ?? '', state: t.to, at: c.at })
        if (isTerminalExecution(t.to)) this.settle(t.executionId)
      } else if (t.kind === 'admit') {
        // A slot of its workflow's concurrency freed: the store let it start.
        this.emit({ type: 'execution', executionId: t.executionId, workflowId: this.workflowOf.get(t.executionId) ?? '', state: 'RUNNING', at: c.at })
      } else if (t.kind === 'task') {
        if (isTerminalTask(t.to)) this.deps.taskEnded(t.executionId, t.taskId)
        this.emit({ type: 'task', executionId: t.executionId, taskId: t.taskId, state: t.to, attempt: t.attempt ?? 0, at: c.at })
      }
    }
    for (const line of c.logs) this.emit({ type: 'log', line })
  }

  /**
   * An execution this engine tracks ended by another engine's commit (a newer execution's cancel-oldest cancelled it
   * while it waited for a slot): its event and its waiters, as if this engine had committed it.
   */
  endedElsewhere(rec: ExecutionRecord): void {
    if (!this.workflowOf.has(rec.id) || !isTerminalExecution(rec.state)) return
    this.emit({ type: 'execution', executionId: rec.id, workflowId: rec.workflowId, state: rec.state, at: rec.endedAt ?? rec.updatedAt })
    this.settle(rec.id)
  }

  emit(e: EngineEvent): void {
    for (const l of this.listeners) {
      try {
        l(e)
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  private settle(executionId: string): void {
    this.workflowOf.delete(executionId)
    this.deps.settled(executionId)
    const list = this.waiters.get(executionId)
    if (!list) return
    this.waiters.delete(executionId)
    void this.deps.read(executionId).then((rec) => { for (const w of list) w(rec!) }, () => {})
  }
}
