/**
 * One warm plugin process speaking protocol 2: invocations in one at a time on stdin, each with a fresh private
 * temp dir; log lines attributed to the invocation they belong to (up to its end markers); the result read from
 * the engine-owned result channel (frames.ts). A process that crashed, timed out, was cancelled, broke a bound or
 * the protocol is killed and never serves again (`reusable` is false).
 */

import { chmodSync, chownSync, closeSync, mkdirSync, rmdirSync, statfsSync, statSync } from 'node:fs'
import { chown, mkdir, rm } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { systemClock } from '../../runtime/clock.ts'
import { decideOutcome, denialSealFor, type AttemptEnd, type Decided, type StopReason } from '../outcome/decide.ts'
import type { JsonBounds } from '../outcome/json-bounds.ts'
import type { ResultRead } from '../outcome/result-file.ts'
import { logPieces } from '../process/lines.ts'
import type { StartedPlugin } from '../process/spares.ts'
import type { PermissionDenial, RunRequest } from '../runner.ts'
import { END_MARKER, PROTOCOL_V2, type InvokeFrame } from '../sdk/protocol.ts'
import { readFrames, type FrameRead } from './frames.ts'

/** How long the engine waits, after a marked result, for the end markers on stdout and stderr. */
const MARKER_GRACE_MS = 2000

/** An invocation's id and its private temp dir. */
interface InvocationDir { id: string; tmpDir: string }

/** Past this many invocations no dir is made ahead (the pools replace a process at 1,000: pools.ts MAX_INVOCATIONS). */
const AHEAD_UNTIL = 999

/** statfs `f_type` of tmpfs (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994

/** Whether `dir` is on tmpfs (where a mkdir or rmdir is a few µs and never waits on a journal). */
function onTmpfs(dir: string): boolean {
  try { return statfsSync(dir).type === TMPFS_MAGIC } catch { return false }
}

/** Removes `dir` if it is empty; false when it is not (or cannot be removed so): the caller removes it with its contents. */
function rmdirIfEmpty(dir: string): boolean {
  try {
    rmdirSync(dir)
    return true
  } catch {
    return false
  }
}

/** What an invocation's wait ends on. */
type Ending = { kind: 'frame'; frame: FrameRead } | { kind: 'exit' } | { kind: 'stop' }

export interface WarmLimits { maxOutputBytes: number; cpuSeconds: number }

export class WarmProcess {
  /** Invocations served so far. */
  invocations = 0
  /** Cleared for good when the process may not serve another invocation. */
  private healthy = true
  private waiting: ((e: Ending) => void) | undefined
  private currentId: string | undefined
  private exited = false
  private disposed: Promise<void> | undefined
  private prepared = false
  private channelDone: Promise<void> = Promise.resolve()
  /** The result frame of the running invocation, once read (an exit may be seen before it). */
  private answer: FrameRead | undefined
  /** The last invocation's dir being removed (off this thread): the next invocation starts only once it is gone. */
  private cleanup: Promise<void> = Promise.resolve()
  /** The next invocation's dir, made ahead (root engines only: see nextDir). */
  private ahead: Promise<InvocationDir> | undefined

  constructor(readonly started: StartedPlugin, private readonly bounds: JsonBounds, private readonly limits: WarmLimits) {
    const fd = started.resultFd
    if (fd === undefined) this.healthy = false
    else {
      // Non-blocking (Bun made the pipe): read through Bun's own polling reader. It ends when every writer is gone.
      this.channelDone = readFrames(Bun.file(fd).stream(), bounds, (f) => this.onFrame(f))
      void this.channelDone.then(() => { try { closeSync(fd) } catch { /* closed */ } })
    }
    // Output between invocations (a background child of an earlier one) is dropped, never given to the next.
    started.sink = () => {}
    void started.proc.exited.then(() => {
      this.exited = true
      this.healthy = false
      this.waiting?.({ kind: 'exit' })
    })
  }

  /** Whether it may take another invocation: alive, and never stopped, broken or past a bound. */
  get reusable(): boolean {
    return this.healthy && !this.exited && this.disposed === undefined
  }

  private onFrame(f: FrameRead): void {
    // A frame nobody asked for (between invocations, or naming another invocation) breaks the protocol.
    if (f.kind === 'problem' || f.id !== this.currentId) this.healthy = false
    else this.answer = f
    if (this.waiting) this.waiting({ kind: 'frame', frame: f })
    else if (!this.healthy) void this.dispose()
  }

  /**
   * Before the first invocation: the process's own temp dir becomes the engine's (root-owned, 0711), so that the
   * plugin can write only inside the invocation's dir, which the engine removes after it. A non-root engine's plugin
   * has the engine's uid, which owns the dir either way (docs/security.md#warm-processes-what-a-reused-process-can-observe).
   * The mode first, then the owner: a fresh process may be entering the dir right now (the boot's chdir to its TMPDIR,
   * once confined), and at no instant may the plugin's uid lose search on it. Owner first left it root's and 0700 in
   * between: the boot's chdir failed EACCES there, the process exited before its invocation, and the engine read
   * Bun's `chdir '<start dir>' -> '<dir>'` as a refusal of the start dir (a spurious PERMISSION_DENIED, once in CI).
   */
  private prepare(): { uid: number; gid: number } {
    if (!this.prepared) {
      this.prepared = true
      const st = statSync(this.started.tmpDir)
      chmodSync(this.started.tmpDir, 0o711)
      if (process.getuid?.() === 0) chownSync(this.started.tmpDir, 0, 0)
      this.owner = { uid: st.uid, gid: st.gid }
      this.onTmpfs = onTmpfs(this.started.tmpDir)
    }
    return this.owner!
  }
  private owner: { uid: number; gid: number } | undefined
  /** Whether the process's dir is on tmpfs (finishDir), looked at once, in prepare. */
  private onTmpfs = false

  /**
   * A fresh invocation dir (0700, the plugin's uid) in the process's dir. A root engine makes the next one ahead,
   * while the last one is removed, once the invocation's outcome is on its way (finishDir; the plugin cannot list the
   * root-owned process dir, so it cannot find it before its invocation names it); a non-root engine, whose plugin owns
   * the process dir and could list it, makes it when the invocation starts.
   */
  private async nextDir(): Promise<InvocationDir> {
    const taken = this.ahead
    this.ahead = undefined
    await this.cleanup
    if (taken) return taken
    const owner = this.prepare()
    const id = randomBytes(12).toString('hex')
    const tmpDir = join(this.started.tmpDir, `i-${id}`)
    mkdirSync(tmpDir, { mode: 0o700 })
    if (process.getuid?.() === 0) chownSync(tmpDir, owner.uid, owner.gid)
    return { id, tmpDir }
  }

  /**
   * Removes an invocation's dir and makes the next one ahead (root only), in the next turn of the loop: after this
   * invocation's outcome has gone on (to the execution actor, and its commit to the main thread), so the dir work
   * overlaps the commit's round trip instead of preceding it (issue 14). The next invocation awaits both (nextDir), so
   * it never starts before the last one's dir is gone. On tmpfs the three calls are made here, synchronously (~6 µs
   * together, and no journal to wait for): through `fs.promises` they cost ~190 µs of hand-offs and wake-ups between
   * this thread and Bun's pool. Elsewhere they go to the pool: ext4 under other I/O stalls a synchronous mkdir or rmdir
   * for milliseconds (p99.9 2.3 ms measured here), which would hold every execution this worker hosts. A dir the
   * plugin left something in is always removed off this thread (a tree of any size).
   */
  private finishDir(tmpDir: string): void {
    const ahead = process.getuid?.() === 0 && this.reusable && this.invocations < AHEAD_UNTIL
    let done!: () => void
    let made!: (d: InvocationDir) => void
    let failed!: (e: unknown) => void
    this.cleanup = new Promise<void>((resolve) => { done = resolve })
    if (ahead) {
      this.ahead = new Promise<InvocationDir>((resolve, reject) => { made = resolve; failed = reject })
      this.ahead.catch(() => {}) // a failure is the next invocation's, when it awaits it
    }
    const inline = this.onTmpfs
    setImmediate(() => {
      const removed = inline && rmdirIfEmpty(tmpDir)
      if (removed) done()
      else void rm(tmpDir, { recursive: true, force: true }).catch(() => {}).then(done)
      if (!ahead) return
      const owner = this.owner!
      const id = randomBytes(12).toString('hex')
      const dir = join(this.started.tmpDir, `i-${id}`)
      // Beside the removal, not after it: another name, and the next invocation awaits both.
      if (!inline) return void mkdir(dir, { mode: 0o700 }).then(() => chown(dir, owner.uid, owner.gid)).then(() => made({ id, tmpDir: dir }), failed)
      try {
        mkdirSync(dir, { mode: 0o700 })
        chownSync(dir, owner.uid, owner.gid)
        made({ id, tmpDir: dir })
      } catch (e) {
        failed(e)
      }
    })
  }

  /** Runs one invocation; the timeout and the cancel signal are armed until its result is in. */
  async invoke(req: RunRequest): Promise<Decided> {
    const p = this.started
    // A fresh denial seal for every invocation of a Bun plugin (in its frame on stdin only; none for exec plugins:
    // denialSealFor): one invocation's refusals never seal another's.
    const seal = denialSealFor(req.plugin.manifest.runtime)
    const { id, tmpDir } = await this.nextDir()
    const timer = new AbortController()
    let deadline: ReturnType<typeof setTimeout> | undefined
    let onAbort = () => {}
    let stopped: StopReason | undefined
    const ended = { stdout: false, stderr: false }
    let onMarker = () => {}
    try {
      p.outputBytes = 0
      p.stderrTail.length = 0
      const stdout = logPieces('stdout', req.onLog, seal)
      let sealed: PermissionDenial | undefined
      const stderr = logPieces('stderr', req.onLog, seal, (d) => { sealed ??= d })
      const seen = () => (sealed ? { sealed } : {})
      const marker = `${END_MARKER}${id}`
      const early = p.buffered.splice(0)
      p.sink = (stream, line, cut) => {
        if (ended[stream]) return
        if (!cut && line === marker) {
          ended[stream] = true
          return onMarker()
        }
        ;(stream === 'stdout' ? stdout : stderr)(line, cut)
      }
      // What a fresh process printed before its first invocation is that invocation's, as with protocol 1.
      if (this.invocations === 0) for (const b of early) p.sink(b.stream, b.line, b.cut)

      const ending = new Promise<Ending>((resolve) => { this.waiting = resolve })
      const stop = (why: StopReason) => {
        stopped ??= why
        this.healthy = false
        p.launch.killAll()
        p.proc.kill('SIGKILL')
        this.waiting?.({ kind: 'stop' })
      }
      p.onOverflow = () => stop('output')
      // A plain timer (not a sleep on `timer.signal`): no promise, listener and rejection per invocation.
      deadline = setTimeout(() => stop('timeout'), req.timeoutMs)
      onAbort = () => stop('cancel')
      req.signal.addEventListener('abort', onAbort, { once: true })
      if (req.signal.aborted) onAbort()
      if (this.exited) this.waiting?.({ kind: 'exit' })

      this.currentId = id
      // tmpDir stays the last field: a shell plugin finds it by its last occurrence (docs/plugins.md, protocol 2).
      const frame: InvokeFrame = { type: 'invoke', id, protocol: PROTOCOL_V2, action: req.action, input: req.input, context: req.context, ...(seal ? { denialSeal: seal } : {}), tmpDir }
      try {
        p.proc.stdin.write(`${JSON.stringify(frame)}\n`)
        await p.proc.stdin.flush()
      } catch {
        // Gone before reading it: its exit tells the rest.
      }
      let end = await ending
      this.waiting = undefined
      if (end.kind === 'exit' && !stopped) {
        // A result written just before a clean exit may still be in the channel: read it to its end first.
        await Promise.race([this.channelDone, systemClock.sleep(MARKER_GRACE_MS, timer.signal).catch(() => {})])
        if (this.answer) end = { kind: 'frame', frame: this.answer }
      }
      if (end.kind === 'frame' && end.frame.kind === 'result' && end.frame.id === id) {
        if (end.frame.marked && !(ended.stdout && ended.stderr)) await this.markers(ended, (f) => { onMarker = f }, timer.signal)
        if (!stopped) {
          const result: ResultRead = { ok: true, result: end.frame.result }
          // Exited after answering: its exit status counts too (a crash after the result still fails the attempt).
          const exit = this.exited ? { exitCode: p.proc.exitCode, signal: p.proc.signalCode == null ? null : String(p.proc.signalCode) } : { exitCode: 0, signal: null }
          return decideOutcome({ ...exit, stderrTail: [...p.stderrTail], seal, ...seen(), result }, this.outcomeBounds(req))
        }
      }
      if (end.kind === 'frame' && !stopped) {
        // A frame past a bound, malformed, or for another invocation: this invocation fails, the process goes.
        this.healthy = false
        const f = end.frame
        const result: ResultRead = f.kind === 'problem' ? { ok: false, problem: f.problem, message: f.message }
          : { ok: false, problem: 'invalid', message: `a result frame named invocation ${f.id.slice(0, 64)}, not this one` }
        void this.dispose()
        return decideOutcome({ exitCode: 0, signal: null, stderrTail: [...p.stderrTail], seal, ...seen(), result }, this.outcomeBounds(req))
      }
      // It exited (crash, a limit) or the engine stopped it: every process of it gone, then the kernel's word.
      await p.proc.exited
      await p.pumps
      p.launch.killAll()
      const cpu: PermissionDenial | undefined = p.proc.signalCode === 'SIGXCPU' ? { permission: 'cpu', target: `${this.limits.cpuSeconds}s` } : undefined
      const limit = (await p.launch.finish()) ?? cpu
      const why: AttemptEnd = {
        ...(stopped ? { stopped } : {}), ...(limit ? { limit } : {}),
        exitCode: p.proc.exitCode, signal: p.proc.signalCode == null ? null : String(p.proc.signalCode), stderrTail: [...p.stderrTail], seal, ...seen(),
        result: { ok: false, problem: 'missing', message: 'the plugin exited before answering its invocation' },
      }
      return decideOutcome(why, this.outcomeBounds(req))
    } finally {
      this.currentId = undefined
      this.answer = undefined
      this.waiting = undefined
      clearTimeout(deadline)
      timer.abort()
      req.signal.removeEventListener('abort', onAbort)
      p.onOverflow = () => { this.healthy = false; void this.dispose() }
      p.sink = () => {}
      this.invocations++
      this.finishDir(tmpDir)
    }
  }

  private outcomeBounds(req: RunRequest) {
    return { timeoutMs: req.timeoutMs, maxOutputBytes: this.limits.maxOutputBytes }
  }

  /** Waits for the end markers on both streams, a short grace at most (or until the deadline or an exit). */
  private async markers(ended: { stdout: boolean; stderr: boolean }, setOnMarker: (f: () => void) => void, deadline: AbortSignal): Promise<void> {
    const grace = new AbortController()
    const done = new Promise<void>((resolve) => {
      setOnMarker(() => { if (ended.stdout && ended.stderr) resolve() })
      void systemClock.sleep(MARKER_GRACE_MS, AbortSignal.any([grace.signal, deadline])).then(resolve, resolve)
      void this.started.proc.exited.then(() => resolve())
    })
    await done
    grace.abort()
  }

  /** Kills it (every process of it), gives back its cgroup and uid, removes its temp dir. Idempotent. */
  dispose(): Promise<void> {
    this.healthy = false
    this.disposed ??= (async () => {
      // The dir work under way first, so that the removal of the process's dir finds nothing being made in it.
      await Promise.all([this.cleanup, this.ahead?.catch(() => {})])
      await this.started.dispose()
    })()
    return this.disposed
  }
}
