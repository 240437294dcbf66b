/**
 * The process runner: one OS process per task attempt, started through the isolation layer.
 * Invocation on stdin, logs from stdout/stderr lines, the result from a file in the private temp dir.
 */

import { mkdtempSync, rmSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ErrorCode, toErrorInfo, type ErrorInfo } from '../../runtime/errors.ts'
import { PROTOCOL_VERSION, ProtocolEnv, parseLogLine, type Invocation } from '../protocol.ts'
import { detectDenialLine } from '../permissions/detect.ts'
import { denialError, type PermissionDenial, type RunOutcome, type RunRequest, type Runner } from '../runner.ts'
import type { PrepareLaunch } from './launch-spec.ts'
import { pumpLines } from './lines.ts'
import { readResult } from './result.ts'

export interface ProcessRunnerOptions {
  prepareLaunch: PrepareLaunch
  limits: { memoryMb: number; cpuSeconds: number; maxProcesses: number; maxOutputBytes: number }
  mode: 'strict' | 'permissive'
  /** Parent of the per-task temp dirs (default: the OS temp dir). */
  tmpRoot?: string
  /** Called with the isolation mechanisms used for each attempt (for the audit trail). */
  onLaunch?: (req: RunRequest, mechanisms: string[]) => void
}

export const BOOT_PATH = resolve(import.meta.dir, '../sdk/boot.ts')

export function createProcessRunner(opts: ProcessRunnerOptions): Runner {
  return { kind: 'process', run: (req) => runProcess(req, opts) }
}

async function runProcess(req: RunRequest, opts: ProcessRunnerOptions): Promise<RunOutcome> {
  const started = performance.now()
  const done = (o: { ok: true; output: unknown } | { ok: false; error: ErrorInfo; denial?: PermissionDenial }): RunOutcome =>
    ({ ...o, durationMs: Math.round(performance.now() - started) })
  if (req.signal.aborted) return done({ ok: false, error: { code: ErrorCode.Cancelled, message: 'cancelled before start' } })

  const tmpDir = mkdtempSync(join(opts.tmpRoot ?? tmpdir(), 'ak-task-'))
  chmodSync(tmpDir, 0o777)
  const resultFile = join(tmpDir, '.result.json')
  try {
    const env = { ...req.env, [ProtocolEnv.ResultFile]: resultFile, [ProtocolEnv.TmpDir]: tmpDir, [ProtocolEnv.Home]: tmpDir }
    let launch
    try {
      launch = await opts.prepareLaunch({
        plugin: req.plugin, permissions: req.permissions, env, tmpDir, limits: opts.limits, mode: opts.mode,
        bootPath: BOOT_PATH, id: `${req.context.executionId}-${req.context.taskId}-${req.context.attempt}`,
      })
    } catch (e) {
      return done({ ok: false, error: toErrorInfo(e) })
    }
    opts.onLaunch?.(req, launch.mechanisms)

    const proc = Bun.spawn(launch.argv, {
      cwd: launch.cwd, env: launch.env, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe',
    })
    launch.attach?.(proc.pid)
    let ended: { code: ErrorInfo['code']; message: string; denial?: PermissionDenial } | undefined
    const stop = (why: NonNullable<typeof ended>) => {
      ended ??= why
      launch.killAll()
      proc.kill('SIGKILL')
    }
    const timer = setTimeout(
      () => stop({ code: ErrorCode.TaskTimedOut, message: `task timed out after ${formatMs(req.timeoutMs)}` }), req.timeoutMs)
    const onAbort = () => stop({ code: ErrorCode.Cancelled, message: 'task cancelled' })
    req.signal.addEventListener('abort', onAbort, { once: true })

    const invocation: Invocation = { protocol: PROTOCOL_VERSION, action: req.action, input: req.input, context: req.context }
    try {
      proc.stdin.write(JSON.stringify(invocation))
      await proc.stdin.end()
    } catch {
      // The plugin may exit before reading its input; its exit status tells the rest.
    }

    let outputBytes = 0
    const countBytes = (n: number) => {
      outputBytes += n
      if (outputBytes <= opts.limits.maxOutputBytes) return true
      stop({
        code: ErrorCode.ResourceLimit, message: `resource limit reached: plugin output exceeded ${opts.limits.maxOutputBytes} bytes`,
        denial: { permission: 'output', target: `${opts.limits.maxOutputBytes} bytes` },
      })
      return false
    }
    const stderrTail: string[] = []
    await Promise.all([
      pumpLines(proc.stdout, logPieces('stdout', req.onLog), countBytes),
      pumpLines(proc.stderr, logPieces('stderr', req.onLog, (l) => {
        stderrTail.push(l)
        if (stderrTail.length > 20) stderrTail.shift()
      }), countBytes),
    ])
    const exitCode = await proc.exited
    clearTimeout(timer)
    req.signal.removeEventListener('abort', onAbort)
    launch.killAll()
    const denial = await launch.finish({ exitCode: proc.exitCode, signal: proc.signalCode == null ? null : String(proc.signalCode), stderrTail })

    if (ended) {
      // A limit the kernel hit (memory, pids) explains a timeout or a kill better than the timeout itself.
      const limit = denial && denial.permission !== ended.denial?.permission ? denial : ended.denial
      if (limit && limit !== ended.denial) return done({ ok: false, error: denialError(limit), denial: limit })
      return done({ ok: false, error: { code: ended.code, message: ended.message }, denial: ended.denial })
    }
    const cpu = proc.signalCode === 'SIGXCPU' ? { permission: 'cpu' as const, target: `${opts.limits.cpuSeconds}s` } : undefined
    const result = await readResult(resultFile)
    if (result?.ok === false) {
      const fromPlugin = result.error.code === ErrorCode.PermissionDenied ? asDenial(result.error.details) : undefined
      // A kernel refusal (e.g. through bun:ffi, past any guard) often only shows in the error message.
      const found = fromPlugin ?? denial ?? detectDenialLine(result.error.message)
      if (found) return done({ ok: false, error: denialError(found, result.error.message), denial: found })
      const pluginCode = result.error.code && result.error.code !== ErrorCode.PluginError ? result.error.code : undefined
      const details = result.error.details ?? (pluginCode ? { pluginCode } : undefined)
      return done({ ok: false, error: { code: ErrorCode.PluginError, message: result.error.message, ...(details !== undefined ? { details } : {}) } })
    }
    const refused = denial ?? cpu
    if (refused) return done({ ok: false, denial: refused, error: denialError(refused) })
    if (exitCode !== 0) {
      const how = proc.signalCode ? `was killed by ${proc.signalCode}` : `exited with code ${exitCode}`
      const tail = stderrTail.slice(-5).join('\n')
      return done({ ok: false, error: { code: ErrorCode.PluginCrashed, message: `plugin ${how}${tail ? `: ${tail}` : ''}`, details: { exitCode, signal: proc.signalCode } } })
    }
    if (!result) return done({ ok: false, error: { code: ErrorCode.PluginProtocolError, message: 'plugin exited without writing a valid result' } })
    return done({ ok: true, output: result.output })
  } finally {
    rmSync(tmpDir, { recursive: true, force: true })
  }
}

function asDenial(v: unknown): PermissionDenial | undefined {
  const d = v as PermissionDenial | undefined
  return d && typeof d.permission === 'string' && typeof d.target === 'string' ? { permission: d.permission, target: d.target } : undefined
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}

/** Turns one stream's lines into log lines; the pieces of a cut line are flagged so the masker can join them. */
function logPieces(stream: 'stdout' | 'stderr', onLog: RunRequest['onLog'], onLine?: (line: string) => void): (line: string, cut: boolean) => void {
  let continuing = false
  return (line, cut) => {
    onLine?.(line)
    // Only the start of a line carries a `::level::` marker; a continuation is taken as it is.
    const parsed = continuing ? { level: stream === 'stdout' ? 'INFO' as const : 'ERROR' as const, message: line } : parseLogLine(line, stream)
    continuing = cut
    onLog({ ...parsed, stream, ...(cut ? { partial: true } : {}) })
  }
}
