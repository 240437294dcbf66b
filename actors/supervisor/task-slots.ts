/**
 * Task slots under the global `maxConcurrentTasks`: a counting semaphore (first come, first served), who holds
 * each slot (a worker that dies gives its slots back, since its tasks never will), and the tasks waiting for one
 * (they stop waiting once the task ends: cancel, timeout).
 */

import { ErrorCode } from '../../runtime/errors.ts'
import { isTerminalTask, WaitReason } from '../../runtime/state/states.ts'
import type { Transition, TransitionResult } from '../../runtime/store/checkpoint.ts'
import type { TaskRunRecord } from '../../runtime/store/types.ts'
import type { BeginTask } from './protocol.ts'

/** Counting semaphore; waiters are served first come, first served. */

export class Slots {
  private used = 0
  private waiters: (() => void)[] = []

  constructor(private readonly max: number) {}

  /** Takes a slot now if one is free. */
  tryAcquire(): boolean {
    if (this.used >= this.max) return false
    this.used++
    return true
  }

  /** Resolves true when a slot has been handed over, false when `signal` aborts first (no slot taken). */
  acquire(signal?: AbortSignal): Promise<boolean> {
    if (this.tryAcquire()) return Promise.resolve(true)
    if (signal?.aborted) return Promise.resolve(false)
    return new Promise((resolve) => {
      const waiter = () => {
        signal?.removeEventListener('abort', giveUp)
        resolve(true)
      }
      const giveUp = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        resolve(false)
      }
      signal?.addEventListener('abort', giveUp, { once: true })
      this.waiters.push(waiter)
    })
  }

  release(): void {
    const next = this.waiters.shift()
    if (next) next() // the slot passes straight to the next waiter
    else this.used = Math.max(0, this.used - 1)
  }

  get inUse(): number {
    return this.used
  }

  get waiting(): number {
    return this.waiters.length
  }
}

/** Who a slot is held for: a worker of the pool (its `dead` flag is set when it dies). */
export interface SlotHolder {
  readonly dead: boolean
}

export interface TaskSlotsDeps {
  /** Commits transitions (the batcher). */
  commit(transitions: Transition[]): Promise<TransitionResult[]>
  /** The task run as committed. */
  taskRun(executionId: string, taskId: string): Promise<TaskRunRecord | undefined>
}

export class TaskSlots {
  private readonly slots: Slots
  /** Slots each worker holds. */
  private readonly held = new Map<SlotHolder, number>()
  /** Tasks waiting for a slot, by `executionId/taskId`. */
  private readonly waits = new Map<string, AbortController>()

  constructor(max: number, private readonly deps: TaskSlotsDeps) {
    this.slots = new Slots(max)
  }

  /**
   * Waits for a slot (recording WAITING / CONCURRENCY_LIMIT if it must), then commits RUNNING. A refusal holds no
   * slot; a worker that died while its task waited gets WORKER_CRASHED (its execution is being recovered).
   */
  async begin(w: SlotHolder, req: BeginTask): Promise<TransitionResult> {
    const running: Transition = { kind: 'task', executionId: req.executionId, taskId: req.taskId, to: 'RUNNING', attempt: req.attempt, runner: req.runner }
    if (!this.slots.tryAcquire()) {
      const [waiting] = await this.deps.commit([{ kind: 'task', executionId: req.executionId, taskId: req.taskId, to: 'WAITING', reason: WaitReason.ConcurrencyLimit }])
      if (waiting && !waiting.ok) return waiting
      const key = `${req.executionId}/${req.taskId}`
      const gaveUp = new AbortController()
      this.waits.set(key, gaveUp)
      // The task may have ended in the same batch as its WAITING: then nothing would abort the wait.
      const now = await this.deps.taskRun(req.executionId, req.taskId)
      if (!now || isTerminalTask(now.state)) gaveUp.abort()
      const got = await this.slots.acquire(gaveUp.signal)
      if (this.waits.get(key) === gaveUp) this.waits.delete(key)
      if (!got) return { ok: false, error: { code: ErrorCode.Cancelled, message: `task ${req.taskId} ended while it waited for a slot` } }
    }
    if (w.dead) {
      this.slots.release()
      return { ok: false, error: { code: ErrorCode.WorkerCrashed, message: 'the worker hosting this task crashed' } }
    }
    this.held.set(w, (this.held.get(w) ?? 0) + 1)
    const [r] = await this.deps.commit([running])
    // A refused RUNNING (the task was cancelled meanwhile) holds no slot; a refused WAITING never took one.
    if (!r!.ok) this.end(w)
    return r!
  }

  /**
   * Commits RUNNING when a slot is free now (and no task waits for one), holding it for `w`; undefined when none is:
   * the task then waits in `begin`. Called in the same turn as the checkpoint of the step that dispatched the task,
   * so both are written in one commit. A refused RUNNING holds no slot.
   */
  beginNow(w: SlotHolder, req: BeginTask): Promise<TransitionResult> | undefined {
    if (w.dead || !this.slots.tryAcquire()) return undefined
    this.held.set(w, (this.held.get(w) ?? 0) + 1)
    const running: Transition = { kind: 'task', executionId: req.executionId, taskId: req.taskId, to: 'RUNNING', attempt: req.attempt, runner: req.runner }
    return this.deps.commit([running]).then(([r]) => {
      if (!r!.ok) this.end(w)
      return r!
    })
  }

  /** Gives one of `w`'s slots back (a no-op once they were given back for its death). */
  end(w: SlotHolder): void {
    const n = this.held.get(w) ?? 0
    if (n <= 0) return
    this.held.set(w, n - 1)
    this.slots.release()
  }

  /** `w` died: every slot it held goes back now. */
  releaseAll(w: SlotHolder): void {
    for (let n = this.held.get(w) ?? 0; n > 0; n--) this.slots.release()
    this.held.delete(w)
  }

  /** A task reached a terminal state: if it waits for a slot, it stops waiting. */
  taskEnded(executionId: string, taskId: string): void {
    this.waits.get(`${executionId}/${taskId}`)?.abort()
  }

  get inUse(): number {
    return this.slots.inUse
  }

  get waiting(): number {
    return this.slots.waiting
  }
}
