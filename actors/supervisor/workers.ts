/** The pool of Bun workers that host execution actors, reached through comlink. */

import * as Comlink from 'comlink'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { SupervisorPort, WorkerApi, WorkerSettings } from './protocol.ts'
import { sweepWorkerSandboxes } from '../../sandbox/process/worker-sweep.ts'

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
}

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

  constructor(
    private readonly size: number,
    /** The port a worker calls, bound to that worker. */
    private readonly port: (w: PooledWorker) => SupervisorPort,
    private readonly settings: WorkerSettings,
    /** A worker died on its own; its executions need recovery. */
    private readonly onCrash: (w: PooledWorker) => void,
  ) {}

  /** The live worker hosting the fewest executions (spawning up to `size`). */
  async pick(): Promise<PooledWorker> {
    // A dispatch that was under way when the pool closed must not start a worker nobody would stop.
    if (this.closing) throw new AppError(ErrorCode.WorkerCrashed, 'the worker pool is closed (the engine is shutting down)')
    this.workers = this.workers.filter((w) => !w.dead)
    if (this.workers.length < this.size) return this.spawn()
    return this.workers.reduce((a, b) => (b.executions.size < a.executions.size ? b : a))
  }

  private async spawn(): Promise<PooledWorker> {
    const worker = new Worker(ENTRY)
    const api = Comlink.wrap<WorkerApi>(worker)
    const { port1, port2 } = new MessageChannel()
    let buried!: () => void
    const w: PooledWorker = { id: this.nextId++, api, worker, executions: new Set(), dead: false, died: new Promise((r) => (buried = r)), port: port1 }
    this.workers.push(w)
    const thread = (worker as Worker & { threadId?: number }).threadId
    let gone = false
    const died = () => {
      if (gone) return
      gone = true
      // Stopped by close() (which marked it dead first), or crashed on its own.
      const crashed = !w.dead
      w.dead = true
      port1.close()
      if (crashed) {
        // Its plugins' pid namespaces die with their launchers; what its attempts' cgroups still hold is killed too.
        if (thread !== undefined) { try { sweepWorkerSandboxes(thread) } catch { /* best effort */ } }
        if (!this.closing) this.onCrash(w)
      }
      buried()
    }
    worker.addEventListener('close', died)
    worker.addEventListener('error', (e) => {
      e.preventDefault?.()
      died()
      worker.terminate()
    })
    Comlink.expose(this.port(w), port1)
    await untilDeath(w, api.init(Comlink.transfer(port2, [port2]), this.settings))
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
    const closing = this.workers
    this.workers = []
    for (const w of closing) {
      w.dead = true
      w.port.close()
      w.worker.terminate()
    }
    await Promise.all(closing.map((w) => w.died))
  }
}
