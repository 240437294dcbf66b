/** The pool of Bun workers that host execution actors, reached through comlink. */

import * as Comlink from 'comlink'
import type { SupervisorPort, WorkerApi, WorkerSettings } from './protocol.ts'
import { sweepWorkerSandboxes } from '../../sandbox/process/worker-sweep.ts'

export interface PooledWorker {
  id: number
  api: Comlink.Remote<WorkerApi>
  worker: Worker
  executions: Set<string>
  dead: boolean
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
    this.workers = this.workers.filter((w) => !w.dead)
    if (this.workers.length < this.size) return this.spawn()
    return this.workers.reduce((a, b) => (b.executions.size < a.executions.size ? b : a))
  }

  private async spawn(): Promise<PooledWorker> {
    const worker = new Worker(ENTRY)
    const api = Comlink.wrap<WorkerApi>(worker)
    const w: PooledWorker = { id: this.nextId++, api, worker, executions: new Set(), dead: false }
    this.workers.push(w)
    const thread = (worker as Worker & { threadId?: number }).threadId
    const died = () => {
      if (w.dead) return
      w.dead = true
      // Its plugins' pid namespaces die with their launchers; what its attempts' cgroups still hold is killed too.
      if (thread !== undefined) { try { sweepWorkerSandboxes(thread) } catch { /* best effort */ } }
      if (!this.closing) this.onCrash(w)
    }
    worker.addEventListener('close', died)
    worker.addEventListener('error', (e) => {
      e.preventDefault?.()
      died()
      worker.terminate()
    })
    const { port1, port2 } = new MessageChannel()
    Comlink.expose(this.port(w), port1)
    await api.init(Comlink.transfer(port2, [port2]), this.settings)
    return w
  }

  all(): PooledWorker[] {
    return this.workers.filter((w) => !w.dead)
  }

  async close(): Promise<void> {
    this.closing = true
    for (const w of this.workers) {
      w.dead = true
      w.worker.terminate()
    }
    this.workers = []
  }
}
