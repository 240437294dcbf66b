/**
 * The pool of Bun workers that host execution actors, reached through comlink. A worker that has hosted no execution
 * for the idle delay (`execution.workerIdleSeconds`) and keeps no warm process is stopped, and the next execution
 * starts one again (docs/engine.md#the-idle-worker): an idle server gives the worker's memory back.
 */

import * as Comlink from 'comlink'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { WorkerStats } from '../engine-types.ts'
import type { SupervisorPort, WorkerApi, WorkerSettings } from './protocol.ts'
import { sweepWorkerSandboxes } from '../../sandbox/process/worker-sweep.ts'
import { exposeOneWay } from './one-way.ts'

export interface PooledWorker {
  id: number
  api: Comlink.Remote<WorkerApi>
  worker: Worker
  executions: Set<string>
  dead: boolean
  /** Resolves once the worker is dead and its crash handled (its executions are being recovered). */
  died: Promise<void>
  /**
   * The engine's end of the channel the worker calls the SupervisorPort on. Closed when the worker goes: a port
   * with a listener keeps the process alive, and Bun does not always notice that the other end died with its
   * thread (a thread terminated while calls cross the channel), so the engine closes its own end.
   */
  port: MessagePort
  /** Its thread id (its workspaces and cgroups are named by it: sweepWorkerSandboxes). */
  thread?: number
  /** Armed while it hosts nothing: it is stopped when this fires (and it still hosts nothing, and holds no warm process). */
  idleTimer?: ReturnType<typeof setTimeout>
}

/** What the pool did so far (EngineStats.workers, less `alive`). */
export type WorkerPoolStats = Omit<WorkerStats, 'alive'>

export interface WorkerPoolOptions {
  /** Workers at most. */
  size: number
  /** The port a worker calls, bound to that worker. */
  port: (w: PooledWorker) => SupervisorPort
  settings: WorkerSettings
  /** A worker died on its own; its executions need recovery. */
  onCrash: (w: PooledWorker) => void
  /** A worker hosting nothing is stopped after this long (0: never; the default, DEFAULT_WORKER_IDLE_MS). */
  idleMs?: number
}

/** The default of `execution.workerIdleSeconds`, in ms. */
export const DEFAULT_WORKER_IDLE_MS = 30_000

/**
 * `call`'s answer, or WORKER_CRASHED once the worker is dead: a dead worker never replies (comlink has no timeout),
 * and whoever waits for it must not wait forever.
 */
export function untilDeath<T>(w: PooledWorker, call: Promise<T>): Promise<T> {
  const gone = w.died.then((): never => { throw new AppError(ErrorCode.WorkerCrashed, `worker ${w.id} is gone`) })
  return Promise.race([call, gone])
}

const ENTRY = new URL('../worker/entry.ts', import.meta.url).href

export class WorkerPool {
  private workers: PooledWorker[] = []
  private nextId = 1
  private closing = false
  /** Self-fenced (fenceAll): nothing is put on a worker. */
  private held = false
  /** An idle worker being stopped: a dispatch meanwhile waits for it, then starts a fresh worker. */
  private stopping: Promise<void> | undefined
  private readonly size: number
  private readonly idleMs: number
  readonly stats: WorkerPoolStats = { started: 0, idleStops: 0, keptForWarm: 0 }

  constructor(private readonly opts: WorkerPoolOptions) {
    this.size = opts.size
    this.idleMs = opts.idleMs ?? DEFAULT_WORKER_IDLE_MS
  }

  /**
   * Puts `executionId` on the live worker hosting the fewest executions (spawning up to `size`) and answers that
   * worker. The execution is counted on it before this returns, so an idle stop never takes a worker that has one.
   */
  async host(executionId: string): Promise<PooledWorker> {
    // A dispatch that was under way when the pool closed must not start a worker nobody would stop.
    const closed = () => new AppError(ErrorCode.WorkerCrashed, 'the worker pool is closed (the engine is shutting down)')
    const fenced = () => new AppError(ErrorCode.WorkerCrashed, 'this engine is fenced: its lease could not be renewed in time')
    if (this.held) throw fenced()
    // A start that races an idle stop is not lost: it waits for the stop, then gets a fresh worker (never more than
    // `size` threads at once).
    while (this.stopping && !this.closing) await this.stopping
    if (this.closing) throw closed()
    // Again after the wait: a fence may have begun meanwhile.
    if (this.held) throw fenced()
    this.workers = this.workers.filter((x) => !x.dead)
    // With a worker to spare, no await comes between the choice and the count: nothing stops it in between.
    const w = this.workers.length < this.size
      ? await this.spawn()
      : this.workers.reduce((a, b) => (b.executions.size < a.executions.size ? b : a))
    // A fence that began while the worker started stops it (fenceAll saw it live); nothing is put on it.
    if (this.held || w.dead) throw fenced()
    w.executions.add(executionId)
    clearTimeout(w.idleTimer)
    w.idleTimer = undefined
    return w
  }

  /** `executionId` left `w` (it stopped there, or its handover failed): a worker left with none idles from now. */
  vacate(w: PooledWorker, executionId: string): void {
    w.executions.delete(executionId)
    if (w.executions.size === 0) this.armIdle(w)
  }

  private armIdle(w: PooledWorker): void {
    clearTimeout(w.idleTimer)
    w.idleTimer = undefined
    if (this.idleMs <= 0 || this.closing || w.dead) return
    w.idleTimer = setTimeout(() => void this.stopIfIdle(w), this.idleMs)
    // The timer alone keeps no process alive (the worker thread does, while it runs).
    w.idleTimer.unref?.()
  }

  /**
   * Stops `w` if it still hosts nothing and keeps no warm process (a `workflow`-level pool outlives its executions:
   * the worker waits for its processes to idle out, `sandbox.warmIdleSeconds`, and looks again after the idle delay).
   */
  private async stopIfIdle(w: PooledWorker): Promise<void> {
    w.idleTimer = undefined
    if (w.dead || this.closing || w.executions.size > 0) return
    let held: { actors: number; warm: boolean }
    try {
      held = await untilDeath(w, w.api.idleState())
    } catch {
      return // it died meanwhile: its crash handling has it
    }
    // Decided now, in one turn with marking it stopped: an execution put on it meanwhile keeps it.
    if (w.dead || this.closing || w.executions.size > 0) return
    if (held.actors > 0 || held.warm) {
      if (held.warm) this.stats.keptForWarm++
      return this.armIdle(w)
    }
    this.stats.idleStops++
    await this.retire([w])
  }

  /**
   * Self-fencing (lease.ts): no execution is put on a worker until `release()`, and every live worker is stopped after
   * killing every attempt it runs (WorkerApi.fence, which no pending commit can hold up); one that has not answered
   * within `graceMs` is stopped anyway, and what its attempts left in their cgroups is killed (as for a crash). Not a
   * crash; after `release()` the next execution starts a fresh worker. Answers the workers stopped, each with the
   * executions it still counted (whose end it may not have reported before its channel closed).
   */
  async fenceAll(graceMs: number): Promise<PooledWorker[]> {
    this.held = true
    const going = this.all()
    await this.retire(going, graceMs)
    return going
  }

  /** Self-fencing is over: executions may be put on workers again. */
  release(): void {
    this.held = false
  }

  private async retire(going: PooledWorker[], fenceMs?: number): Promise<void> {
    // In the caller's turn: an execution put on one of them before this keeps it (the caller checked), none after.
    for (const w of going) {
      w.dead = true // never picked again, and its close is not a crash
      clearTimeout(w.idleTimer)
    }
    this.workers = this.workers.filter((x) => !going.includes(x))
    // After any idle stop under way (never more than `size` threads at once); a fence does not wait for one (whose
    // interrupt has no deadline, of a worker hosting nothing): its kills go out now. A dispatch meanwhile waits (host).
    const prior = fenceMs === undefined ? this.stopping : undefined
    const stop = (prior ?? Promise.resolve()).then(() => Promise.all(going.map(async (w) => {
      // Its executions, spare processes and pools go first (the thread's exit would leave their temp dirs behind).
      if (fenceMs === undefined) await untilDeath(w, w.api.interruptAll()).catch(() => undefined)
      else await Promise.race([untilDeath(w, w.api.fence()).catch(() => undefined), Bun.sleep(fenceMs)])
      w.port.close()
      w.worker.terminate()
      await w.died
      // The backstop a crash has: whatever its attempts' cgroups still hold (a fence that did not finish in time).
      if (fenceMs !== undefined && w.thread !== undefined) { try { sweepWorkerSandboxes(w.thread) } catch { /* best effort */ } }
    }))).then(() => {})
    this.stopping = stop
    await stop
    if (this.stopping === stop) this.stopping = undefined
  }

  private async spawn(): Promise<PooledWorker> {
    const worker = new Worker(ENTRY)
    const api = Comlink.wrap<WorkerApi>(worker)
    const { port1, port2 } = new MessageChannel()
    let buried!: () => void
    const w: PooledWorker = { id: this.nextId++, api, worker, executions: new Set(), dead: false, died: new Promise((r) => (buried = r)), port: port1 }
    this.workers.push(w)
    this.stats.started++
    const thread = (worker as Worker & { threadId?: number }).threadId
    if (thread !== undefined) w.thread = thread
    let gone = false
    const died = () => {
      if (gone) return
      gone = true
      clearTimeout(w.idleTimer)
      // Stopped by close() or for idleness (which marked it dead first), or crashed on its own.
      const crashed = !w.dead
      w.dead = true
      port1.close()
      if (crashed) {
        // Its plugins' pid namespaces die with their launchers; what its attempts' cgroups still hold is killed too.
        if (thread !== undefined) { try { sweepWorkerSandboxes(thread) } catch { /* best effort */ } }
        if (!this.closing) this.opts.onCrash(w)
      }
      buried()
    }
    worker.addEventListener('close', died)
    worker.addEventListener('error', (e) => {
      e.preventDefault?.()
      died()
      worker.terminate()
    })
    const port = this.opts.port(w)
    Comlink.expose(port, port1)
    // endTask, log and executionFinished come as one-way messages on the same channel (one-way.ts).
    exposeOneWay(port1, port)
    await untilDeath(w, api.init(Comlink.transfer(port2, [port2]), this.opts.settings))
    return w
  }

  all(): PooledWorker[] {
    return this.workers.filter((w) => !w.dead)
  }

  /** The live worker with this id. */
  find(id: number): PooledWorker | undefined {
    return this.workers.find((w) => w.id === id && !w.dead)
  }

  /**
   * Stops every worker and closes the engine's end of each channel; resolves once every thread is gone, so
   * nothing of the pool is left to keep the process alive. A dispatch under way after this gets no worker.
   */
  async close(): Promise<void> {
    this.closing = true
    while (this.stopping) await this.stopping
    const closing = this.workers
    this.workers = []
    for (const w of closing) {
      clearTimeout(w.idleTimer)
      w.dead = true
      w.port.close()
      w.worker.terminate()
    }
    await Promise.all(closing.map((w) => w.died))
  }
}
