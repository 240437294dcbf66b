/**
 * The workflow parser: one reused Bun worker, a bounded queue and a deadline per upload, so a large or
 * hostile upload never stalls the main thread (the API, /health, the supervisor's checkpoints).
 *
 * Why a worker rather than "bounded by the limits": the `yaml` package parses ~1 MB/s, so a document at
 * the 512 KiB default limit costs about half a second of CPU (more when an operator raises the limit),
 * and a pathological one may cost more memory than it is worth keeping. In the worker that second stalls nobody; the main thread only copies the text in
 * and the result out. The worker collects its garbage after large documents, is replaced when its heap
 * stays large, and is stopped when idle, so the memory a burst took is given back.
 */
import type { PluginRegistry } from '../../sandbox/plugins/registry.ts'
import * as Comlink from 'comlink'
import { workflowLimitsOf, type Config } from '../../runtime/config/index.ts'
import type { WorkflowLimits } from '../../runtime/workflow/limits.ts'
import type { ParserApi, ParseReply, WireParseResult } from './protocol.ts'
import { threadCpuMs } from './thread-cpu.ts'

const ENTRY = new URL('./worker.ts', import.meta.url).href
/** Longest a worker may take to load (~0.3 s on a quiet 2-core machine, seconds when it is loaded). */
const START_TIMEOUT_MS = 30_000
/** Wall-time backstop of a parse, as a multiple of its CPU budget (a thread that gets no CPU at all). */
const WALL_BACKSTOP = 6

/** How the pool is bounded. */
export interface ParserPoolOptions {
  limits: WorkflowLimits
  /**
   * Longest wait in the queue (wall time), and longest run in the worker (CPU time of its thread where
   * /proc tells it, else wall time; a run is also stopped after WALL_BACKSTOP times this in wall time).
   */
  timeoutMs: number
  /** Uploads waiting beyond the one being parsed; more are refused at once. */
  maxQueued: number
  /**
   * Stop the worker after this long without work (default 30 s). A fresh worker loads its modules and
   * warms its JIT again (shared JIT threads, a few hundred ms of CPU), so it is not stopped between the
   * uploads of one batch; an idle server gives the memory back.
   */
  idleMs?: number
  /** Replace the worker when its heap is still above this after a job (default 256 MiB). */
  recycleHeapBytes?: number
}

/** The answer for one upload. */
export type ParseOutcome =
  | { type: 'parsed'; result: WireParseResult }
  /** The queue was full, or the upload waited past its deadline: try again later. */
  | { type: 'busy'; retryAfterSeconds: number }
  /** The worker ran past the deadline on this document (it was stopped) or died while parsing it. */
  | { type: 'aborted'; reason: 'timeout' | 'crashed' }

interface Job {
  source: string
  /** The plugins to check the workflow against (plain data: it crosses to the worker). */
  plugins?: PluginRegistry
  resolve: (outcome: ParseOutcome) => void
  /** The queue deadline, cleared when the job starts. */
  timer?: ReturnType<typeof setTimeout>
}

interface LiveWorker {
  worker: Worker
  api: Comlink.Remote<ParserApi>
  /** Settles when the worker has loaded: a job's run deadline starts then, not at spawn. */
  ready: Promise<void>
  /** The worker's thread id once ready (Linux), to read its CPU time. */
  tid?: number
}

/** The job in the worker, and how to answer it exactly once. */
interface Running {
  job: Job
  live: LiveWorker
  finish: (outcome: ParseOutcome) => void
}

/** Counters for tests and benchmarks. */
export interface ParserPoolStats {
  started: number
  parsed: number
  refused: number
  timedOut: number
  crashed: number
  recycled: number
}

/**
 * One parser worker (started on demand, stopped when idle) behind a bounded queue: `parse` answers every
 * upload with a result, busy (queue full or waited too long) or aborted (over its CPU budget, or the
 * worker died), and never rejects.
 */
export class ParserPool {
  private live: LiveWorker | undefined
  private readonly queue: Job[] = []
  private running: Running | undefined
  private idleTimer: ReturnType<typeof setTimeout> | undefined
  private closed = false
  /** Moving average of recent parse times, for Retry-After. */
  private averageMs = 100
  readonly stats: ParserPoolStats = { started: 0, parsed: 0, refused: 0, timedOut: 0, crashed: 0, recycled: 0 }

  constructor(private readonly options: ParserPoolOptions) {}

  /** Parses one document in the worker (checked against `plugins` when given); never rejects. */
  parse(source: string, plugins?: PluginRegistry): Promise<ParseOutcome> {
    if (this.closed) return Promise.resolve(this.busy())
    if (this.queue.length >= this.options.maxQueued && this.running) {
      this.stats.refused++
      return Promise.resolve(this.busy())
    }
    return new Promise((resolve) => {
      const job: Job = { source, resolve, ...(plugins ? { plugins } : {}) }
      job.timer = setTimeout(() => {
        const at = this.queue.indexOf(job)
        if (at < 0) return
        this.queue.splice(at, 1)
        this.stats.refused++
        resolve(this.busy())
      }, this.options.timeoutMs)
      job.timer.unref?.()
      this.queue.push(job)
      this.pump()
    })
  }

  /** Stops the worker; queued and running uploads are answered busy. */
  close(): void {
    this.closed = true
    clearTimeout(this.idleTimer)
    for (const job of this.queue.splice(0)) {
      clearTimeout(job.timer)
      job.resolve(this.busy())
    }
    const running = this.running
    this.running = undefined
    running?.job.resolve(this.busy())
    this.stop()
  }

  /** Bytes a document may have (the route refuses larger bodies before reading them whole). */
  get maxDocumentBytes(): number {
    return this.options.limits.maxDocumentBytes
  }

  /** Whether a worker thread is alive (it is stopped when idle). */
  get workerAlive(): boolean {
    return this.live !== undefined
  }

  private busy(): ParseOutcome {
    const waitMs = this.averageMs * (this.queue.length + 1)
    return { type: 'busy', retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) }
  }

  private pump(): void {
    if (this.running || this.closed) return
    const job = this.queue.shift()
    if (!job) {
      this.armIdle()
      return
    }
    clearTimeout(job.timer)
    clearTimeout(this.idleTimer)
    const live = this.ensureWorker()
    let deadline: ReturnType<typeof setInterval> | undefined
    const run: Running = {
      job,
      live,
      finish: (outcome) => {
        if (this.running !== run) return
        clearInterval(deadline)
        this.running = undefined
        job.resolve(outcome)
        this.pump()
      },
    }
    this.running = run
    // Start-up (module loading, slow on a loaded machine) does not count against the upload's deadline.
    void live.ready.then(() => {
      if (this.running !== run) return
      const started = performance.now()
      const cpu = live.tid !== undefined ? threadCpuMs(live.tid) : undefined
      const spent = () => {
        const now = cpu !== undefined && live.tid !== undefined ? threadCpuMs(live.tid) : undefined
        return now !== undefined && cpu !== undefined ? now - cpu : performance.now() - started
      }
      const { timeoutMs } = this.options
      deadline = setInterval(() => {
        if (spent() <= timeoutMs && performance.now() - started <= WALL_BACKSTOP * timeoutMs) return
        this.stats.timedOut++
        this.stop()
        run.finish({ type: 'aborted', reason: 'timeout' })
      }, Math.max(10, Math.min(250, timeoutMs / 4)))
      deadline.unref?.()
      live.api.parse(job.source, this.options.limits, job.plugins).then(
        (reply: ParseReply) => {
          this.averageMs = 0.8 * this.averageMs + 0.2 * (performance.now() - started)
          this.stats.parsed++
          if (reply.heapBytes > (this.options.recycleHeapBytes ?? 256 * 1024 * 1024)) {
            this.stats.recycled++
            this.stop()
          }
          run.finish({ type: 'parsed', result: reply.result })
        },
        () => this.died(live),
      )
    })
  }

  /** The worker died on its own (a crash, not our terminate): the job it held is answered. */
  private died(live: LiveWorker): void {
    if (this.live !== live) return
    this.stats.crashed++
    this.stop()
    if (this.running?.live === live) this.running.finish({ type: 'aborted', reason: 'crashed' })
  }

  private ensureWorker(): LiveWorker {
    if (this.live) return this.live
    const worker = new Worker(ENTRY)
    // Neither the worker nor its timers keep a process alive that is otherwise done (tests, the CLI).
    worker.unref()
    const api = Comlink.wrap<ParserApi>(worker)
    // A worker that never gets ready (a hung start-up) is treated as dead.
    let startTimer: ReturnType<typeof setTimeout> | undefined
    const ready = new Promise<void>((resolve) => {
      startTimer = setTimeout(() => this.died(live), Math.max(this.options.timeoutMs, START_TIMEOUT_MS))
      startTimer.unref?.()
      api.ping().then(({ tid }) => {
        if (tid !== undefined) live.tid = tid
        resolve()
      }, () => this.died(live))
    }).finally(() => clearTimeout(startTimer))
    const live: LiveWorker = { worker, api, ready }
    // A worker that dies never answers through comlink: its error and close events end the job.
    worker.addEventListener('error', (e) => {
      e.preventDefault?.()
      this.died(live)
    })
    worker.addEventListener('close', () => this.died(live))
    this.live = live
    this.stats.started++
    return live
  }

  private stop(): void {
    const live = this.live
    this.live = undefined
    live?.worker.terminate()
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer)
    if (!this.live) return
    this.idleTimer = setTimeout(() => {
      if (!this.running && this.queue.length === 0) this.stop()
    }, this.options.idleMs ?? 30_000)
    this.idleTimer.unref?.()
  }
}

/** The pool for a server's `limits` config section. */
export function parserPoolFor(limits: Config['limits']): ParserPool {
  return new ParserPool({ limits: workflowLimitsOf(limits), timeoutMs: limits.parseTimeoutSeconds * 1000, maxQueued: limits.maxQueuedParses })
}
