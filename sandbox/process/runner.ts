/**
 * The process runner: one OS process per task attempt, started through the isolation layer.
 * Invocation on stdin, logs from stdout/stderr lines, the result from a file in the private temp dir.
 * At a warm isolation level, a protocol-2 plugin's attempts go to the warm pools instead (sandbox/pools/).
 */

import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { systemClock } from '../../runtime/clock.ts'
import { AppError, ErrorCode, toErrorInfo } from '../../runtime/errors.ts'
import { PROTOCOL_VERSION, ProtocolEnv, type Invocation } from '../sdk/protocol.ts'
import type { PermissionDenial, RunRequest, Runner } from '../runner.ts'
import type { PrepareLaunch } from './launch-spec.ts'
import { logPieces, pumpLines } from './lines.ts'
import { DEFAULT_JSON_BOUNDS, type JsonBounds } from '../outcome/json-bounds.ts'
import { decideOutcome, denialSealFor, type Decided, type StopReason } from '../outcome/decide.ts'
import { readResultFile } from '../outcome/result-file.ts'
import { detectCgroups, hasTaskCgroupsOf, sweepStaleCgroups } from './cgroup.ts'
import { startEngineInstance } from './engine-instance.ts'
import { SparePool, type SpareKey, type StartedPlugin } from './spares.ts'
import { grantPaths, pinPaths } from './pins.ts'
import { createWorkspace, type Workspace } from './workspace.ts'
import { guestBoot } from './guest-bundle.ts'
import { createWarmPools, type WarmPools } from '../pools/pools.ts'
import { placeAll, takeAll } from '../files/attempt.ts'
import type { StoredFile } from '../../runtime/store/types.ts'

export interface ProcessRunnerOptions {
  prepareLaunch: PrepareLaunch
  limits: { memoryMb: number; cpuSeconds: number; maxProcesses: number; maxOutputBytes: number }
  mode: 'strict' | 'permissive'
  /** Where the runner's workspace (the per-attempt temp dirs) goes (default: the OS temp dir). See workspace.ts. */
  tmpRoot?: string
  /** Pre-started processes kept ready (0 disables; default 2). See spares.ts. */
  spares?: number
  /** Size and depth bounds of a result file (default DEFAULT_JSON_BOUNDS; config `sandbox.maxResult*`). */
  resultBounds?: JsonBounds
  /** Warm processes for the `execution` and `workflow` isolation levels (sandbox/pools/; defaults there). */
  warm?: { maxPerKey?: number; maxTotal?: number; idleMs?: number }
}

/** The unbundled boot. Plugin processes start with guestBoot(): the bundle of it when current (guest-bundle.ts). */
export const BOOT_PATH = resolve(import.meta.dir, '../sdk/boot.ts')

/**
 * One process start per event-loop turn. Starting one is mostly synchronous work (the launch policy, the cgroup, the
 * uid lease, the spawn itself); a burst of attempts (and their spares) started in one turn kept the thread from
 * polling for a whole burst, and every launcher that had exited meanwhile stayed a zombie, its result unread, until
 * then (issue 14: ~10 at any moment in W2). Between two starts the loop now polls: exits are reaped as they come.
 */
function turnGate(): (kind: 'attempt' | 'spare') => Promise<void> {
  const queues = { attempt: [] as (() => void)[], spare: [] as (() => void)[] }
  let pumping = false
  const pump = () => {
    // An attempt someone waits for goes before a spare that may never be used.
    const next = queues.attempt.shift() ?? queues.spare.shift()
    if (!next) return void (pumping = false)
    next()
    setImmediate(pump)
  }
  return (kind) => new Promise<void>((resolve) => {
    queues[kind].push(resolve)
    if (!pumping) {
      pumping = true
      setImmediate(pump)
    }
  })
}

export function createProcessRunner(opts: ProcessRunnerOptions): Runner & { close(): Promise<void>; release(scope: string): void; holdsWarm(): boolean } {
  const cgroups = detectCgroups()
  sweepStaleCgroups(cgroups)
  // This runner's attempts are named after it, and its lock (held from before its first cgroup) says it lives.
  const instance = startEngineInstance()
  const ws = createWorkspace(opts.tmpRoot ?? tmpdir(), instance)
  const removeWorkspace = () => {
    ws.remove()
    instance.release(hasTaskCgroupsOf(cgroups, instance.id))
  }
  process.once('exit', removeWorkspace)
  const nextTurn = turnGate()
  const start = async (k: SpareKey, kind: 'attempt' | 'spare') => {
    await nextTurn(kind)
    return spawnPlugin(k, opts, ws)
  }
  const spares = new SparePool(opts.spares ?? 2, (k) => start(k, 'spare'))
  // A request at a warm isolation level, for a plugin that speaks protocol 2, goes to the pools (sandbox/pools/).
  const warm: WarmPools = createWarmPools({ ...opts.warm, bounds: opts.resultBounds ?? DEFAULT_JSON_BOUNDS, limits: opts.limits,
    keyOf: spareKey, spawn: async (k) => { await nextTurn('attempt'); return spawnPlugin(k, opts, ws, 2) } })
  return {
    kind: 'process',
    async run(req) {
      const started = performance.now()
      if (req.signal.aborted) return { ok: false, error: { code: ErrorCode.Cancelled, message: 'cancelled before start' }, durationMs: 0 }
      // A warm process keeps one working dir per invocation, which the files seam does not place into: a fresh one.
      if (!req.files && warm.serves(req)) {
        const served = await warm.run(req)
        if (served) return served
      }
      const key = spareKey(req)
      let proc = spares.take(key.id)
      if (proc) {
        // A spare was prepared earlier: it serves this attempt only if the pin check of a fresh launch passes now and
        // finds what the spare was granted. Otherwise it is disposed of and a fresh launch checks (and refuses) anew.
        try { proc.launch.recheck() } catch {
          await proc.dispose()
          proc = undefined
        }
      }
      if (!proc) {
        try {
          proc = await start(key, 'attempt')
        } catch (e) {
          return { ok: false, error: toErrorInfo(e), durationMs: Math.round(performance.now() - started) }
        }
      }
      // The next attempt of the same plugin (same permissions and env) finds its process already started.
      spares.replenish(key)
      req.onLaunch?.(proc.launch.mechanisms)
      // Before the invocation: no plugin code has run yet (the boot, or the launcher before execve, waits for it).
      const placed = req.files ? await placeAll(proc.tmpDir, req.files) : undefined
      if (placed) {
        await proc.dispose()
        return { ok: false, error: placed, durationMs: Math.round(performance.now() - started) }
      }
      const outcome = await execute(proc, req, opts)
      return { ...outcome, durationMs: Math.round(performance.now() - started) }
    },
    release: (scope) => warm.release(scope),
    holdsWarm: () => warm.live() > 0,
    async close() {
      await Promise.all([spares.close(), warm.close()])
      process.off('exit', removeWorkspace)
      removeWorkspace()
    },
  }
}

/**
 * What makes two attempts interchangeable before their invocation: same plugin, permissions and env, and the same
 * inodes at the grant's paths, pinned now, when the attempt is taken: a spare launched while a grant path was
 * something else (another directory, a symlink, nothing) serves no attempt that checked the path since.
 */
function spareKey(req: RunRequest): SpareKey {
  const { plugin, permissions, env } = req
  const pins = pinPaths(grantPaths(permissions))
  // The plugin directory's pin too: a spare confined to the directory as one load found it serves no later load's.
  return { id: JSON.stringify([plugin.dir, plugin.dirPin ?? null, plugin.entryPath, permissions, env, pins]), plugin, permissions, env, pins }
}

/**
 * Starts a confined plugin process that waits for its invocation on stdin (no plugin code runs before it: the
 * boot loads the entry only after reading the invocation, and an exec plugin's launcher waits before execve).
 * Output is buffered until a task owns it.
 */
async function spawnPlugin(key: SpareKey, opts: ProcessRunnerOptions, ws: Workspace, protocol: 1 | 2 = 1): Promise<StartedPlugin> {
  // A random id, unique per engine and host (a per-worker counter made two workers share one cgroup).
  const { id, tmpDir } = ws.newAttempt()
  const resultFile = join(tmpDir, '.result.json')
  // Protocol 2: the result channel is the descriptor after the launcher's (the uid lease of a root engine).
  const resultFd = 3 + (process.getuid?.() === 0 ? 1 : 0)
  const env = protocol === 2
    ? { ...key.env, [ProtocolEnv.Protocol]: '2', [ProtocolEnv.ResultFd]: String(resultFd), [ProtocolEnv.TmpDir]: tmpDir, [ProtocolEnv.Home]: tmpDir }
    : { ...key.env, [ProtocolEnv.ResultFile]: resultFile, [ProtocolEnv.TmpDir]: tmpDir, [ProtocolEnv.Home]: tmpDir }
  let launch
  try {
    launch = await opts.prepareLaunch({
      plugin: key.plugin, permissions: key.permissions, env, tmpDir, startDir: ws.startDir, limits: opts.limits, mode: opts.mode,
      bootPath: await guestBoot(), id, pins: key.pins,
    })
  } catch (e) {
    rmSync(tmpDir, { recursive: true, force: true })
    throw e
  }
  let proc: StartedPlugin['proc']
  try {
    const fds = launch.fds ?? []
    if (protocol === 2 && 3 + fds.length !== resultFd) throw new AppError(ErrorCode.SandboxUnavailable, 'protocol 2: the result channel would not be at its descriptor')
    proc = Bun.spawn(launch.argv, { cwd: launch.cwd, env: launch.env, stdio: ['pipe', 'pipe', 'pipe', ...fds, ...(protocol === 2 ? ['pipe' as const] : [])] }) as StartedPlugin['proc']
  } catch (e) {
    // Nothing started: give back the cgroup and the leased uid, and the temp dir.
    await launch.finish().catch(() => undefined)
    rmSync(tmpDir, { recursive: true, force: true })
    throw e
  }
  launch.attach(proc.pid)
  const p: StartedPlugin = {
    proc, launch, tmpDir, resultFile, stderrTail: [], buffered: [], outputBytes: 0, sink: undefined, onOverflow: undefined,
    ...(protocol === 2 ? { resultFd: (proc as unknown as { stdio: (number | null)[] }).stdio[resultFd] ?? undefined } : {}),
    pumps: Promise.resolve(),
    async dispose() {
      launch.killAll()
      proc.kill('SIGKILL')
      await proc.exited
      await launch.finish().catch(() => undefined)
      rmSync(tmpDir, { recursive: true, force: true })
    },
  }
  const countBytes = (n: number) => {
    p.outputBytes += n
    if (p.outputBytes <= opts.limits.maxOutputBytes) return true
    p.onOverflow?.()
    return false
  }
  const route = (stream: 'stdout' | 'stderr') => (line: string, cut: boolean) => {
    if (stream === 'stderr') {
      p.stderrTail.push(line)
      if (p.stderrTail.length > 20) p.stderrTail.shift()
    }
    if (p.sink) p.sink(stream, line, cut)
    else p.buffered.push({ stream, line, cut })
  }
  p.pumps = Promise.all([pumpLines(proc.stdout, route('stdout'), countBytes), pumpLines(proc.stderr, route('stderr'), countBytes)]).then(() => {})
  return p
}

/**
 * Runs one attempt on a started process: invocation in, logs out, exit, result file. The timeout and the
 * cancel signal stay armed until the result has been read (a read the plugin could stall is stopped too).
 */
async function execute(p: StartedPlugin, req: RunRequest, opts: ProcessRunnerOptions): Promise<Decided & { files?: StoredFile[] }> {
  const { proc, launch, resultFile } = p
  const timer = new AbortController()
  const reading = new AbortController()
  let onAbort = () => {}
  // This attempt's denial seal (Bun plugins only: denialSealFor): only in the invocation on stdin (never the
  // environment), out of every logged line.
  const seal = denialSealFor(req.plugin.manifest.runtime)
  try {
    const stdout = logPieces('stdout', req.onLog, seal)
    let sealed: PermissionDenial | undefined
    const stderr = logPieces('stderr', req.onLog, seal, (d) => { sealed ??= d })
    p.sink = (stream, line, cut) => (stream === 'stdout' ? stdout : stderr)(line, cut)
    for (const b of p.buffered.splice(0)) p.sink(b.stream, b.line, b.cut)

    let stopped: StopReason | undefined
    const stop = (why: StopReason) => {
      stopped ??= why
      reading.abort()
      launch.killAll()
      proc.kill('SIGKILL')
    }
    p.onOverflow = () => stop('output')
    if (p.outputBytes > opts.limits.maxOutputBytes) p.onOverflow()
    systemClock.sleep(req.timeoutMs, timer.signal).then(() => stop('timeout'), () => {})
    onAbort = () => stop('cancel')
    req.signal.addEventListener('abort', onAbort, { once: true })
    if (req.signal.aborted) onAbort()

    const invocation: Invocation = {
      protocol: PROTOCOL_VERSION, action: req.action, input: req.input, context: req.context, ...(seal ? { denialSeal: seal } : {}),
      ...(req.files?.inputs.length ? { files: Object.fromEntries(req.files.inputs.map((f) => [f.name, join(p.tmpDir, f.name)])) } : {}),
    }
    try {
      proc.stdin.write(JSON.stringify(invocation))
      await proc.stdin.end()
    } catch {
      // The plugin may exit before reading its input; its exit status tells the rest.
    }
    await p.pumps
    await proc.exited
    launch.killAll()
    // The kernel's word on limits (cgroup events); SIGXCPU is the CPU-time rlimit.
    const cpu: PermissionDenial | undefined = proc.signalCode === 'SIGXCPU' ? { permission: 'cpu', target: `${opts.limits.cpuSeconds}s` } : undefined
    const limit = (await launch.finish()) ?? cpu
    // Every process of the attempt is gone; the result is read under the same timeout and cancel.
    const result = stopped ? undefined : await readResultFile(resultFile, opts.resultBounds ?? DEFAULT_JSON_BOUNDS, reading.signal)
    timer.abort()
    req.signal.removeEventListener('abort', onAbort)
    const decided = decideOutcome({
      ...(stopped ? { stopped } : {}), ...(limit ? { limit } : {}), ...(result ? { result } : {}),
      exitCode: proc.exitCode, signal: proc.signalCode == null ? null : String(proc.signalCode), stderrTail: p.stderrTail, seal,
      ...(sealed ? { sealed } : {}),
    }, { timeoutMs: req.timeoutMs, maxOutputBytes: opts.limits.maxOutputBytes })
    // Only a success's files are taken, once every process of the attempt is gone (nothing writes there any more).
    if (!decided.ok || (!req.files?.outputs.length && !req.files?.outputDirs?.length)) return decided
    const taken = await takeAll(p.tmpDir, req.files, decided.output, req.onLog)
    return taken.ok ? { ...decided, files: taken.files } : taken
  } finally {
    timer.abort()
    req.signal.removeEventListener('abort', onAbort)
    rmSync(p.tmpDir, { recursive: true, force: true })
  }
}
