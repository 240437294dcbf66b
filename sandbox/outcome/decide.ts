/**
 * What one attempt's end means for its task, the same for every runner: the runner says what it saw (why it
 * stopped the plugin, the limits its instruments caught, the exit, the stderr tail, the result file as read),
 * this decides. Denial lines are read by sandbox/sdk/detect.ts (the guest writes them, the engine reads them):
 * only a marker sealed with the attempt's own seal is a denial seen; a refusal read from any other text is inferred.
 */

import { randomBytes } from 'node:crypto'
import { ErrorCode, type ErrorInfo } from '../../runtime/errors.ts'
import { detectDenial, sealedDenial, withoutSeal } from '../sdk/detect.ts'
import type { PermissionDenial } from '../runner.ts'
import { denialError, pluginFailure, resultFailure, type Failure } from './plugin-result.ts'
import type { ResultRead } from './result-file.ts'

/** A fresh denial seal for one attempt (or one invocation of a warm process): 128 random bits, hex. */
export const newDenialSeal = (): string => randomBytes(16).toString('hex')

/**
 * The seal for one attempt of a plugin, or none: only a Bun plugin gets one, because only there is it held where no
 * child can read it (the boot takes it from stdin into the guard; the process is non-dumpable once confined, and
 * Landlock keeps other processes' /proc out). An exec plugin is arbitrary code whose children inherit its memory
 * (dumpable again after its exec, readable by a same-uid child in a container) and whatever input it hands them, so
 * it gets no seal: it reports a denial in its result, and a refusal on its stderr is only ever inferred
 * (docs/security.md#denials-sealed-or-inferred-review-7).
 */
export const denialSealFor = (runtime: 'bun' | 'exec'): string | undefined => (runtime === 'bun' ? newDenialSeal() : undefined)

/** Why the engine stopped an attempt itself. */
export type StopReason = 'timeout' | 'cancel' | 'output'

/** What a runner knows once every process (or the container) of an attempt is gone. */
export interface AttemptEnd {
  /** Set when the engine stopped the attempt (the result file is then not read). */
  stopped?: StopReason
  /** A limit the runner's own instruments saw hit: cgroup OOM or pids.max, SIGXCPU, a container's OOMKilled. */
  limit?: PermissionDenial
  /** null when killed by a signal. */
  exitCode: number | null
  signal: string | null
  /** The last lines of the plugin's stderr (as printed: a sealed marker still has its seal). */
  stderrTail: readonly string[]
  /** The seal this attempt's invocation gave the plugin (detect.ts): a marker counts only with it. */
  seal?: string
  /** The first sealed marker the runner saw on stderr as it passed (lines.ts logPieces), wherever it was. */
  sealed?: PermissionDenial
  /** The result file as read; absent when it was not read. */
  result?: ResultRead
}

/** The bounds a decision quotes in its messages. */
export interface OutcomeBounds {
  timeoutMs: number
  maxOutputBytes: number
}

/** An outcome before its duration is added (the runner adds it: RunOutcome). */
export type Decided = { ok: true; output: unknown } | Failure

/**
 * Decides, in this order:
 * 1. a stop by the engine (timeout, cancel, output cap), unless a denial was seen (a limit, the sealed marker),
 *    which explains the stop better (a fork bomb held at pids.max spins until the timeout; the task fails
 *    RESOURCE_LIMIT pids); a refusal merely inferred from stderr text never overrides the engine's own stop;
 * 2. the plugin's own `{ok:false}` (PLUGIN_ERROR; a denial it or the runner names wins: PERMISSION_DENIED);
 * 3. a denial without one: a limit, the guard's sealed marker (even after a clean exit: the plugin may have
 *    swallowed the error), or — inferred, flagged `inferred: true` — a kernel refusal named on stderr by a plugin
 *    that did not exit cleanly (never after a clean exit: text alone does not fail a success);
 * 4. an unclean exit (PLUGIN_CRASHED, quoting the stderr tail);
 * 5. the result file: missing or malformed (PLUGIN_PROTOCOL_ERROR), past its bounds (INVALID_TASK_OUTPUT), or the output.
 */
export function decideOutcome(end: AttemptEnd, bounds: OutcomeBounds): Decided {
  const clean = end.exitCode === 0 && end.signal === null
  const observed = end.limit ?? end.sealed ?? markedDenial(end.stderrTail, end.seal)
  if (end.stopped) {
    const own = stopFailure(end.stopped, bounds)
    if (observed && observed.permission !== own.denial?.permission) return denied(observed)
    return own
  }
  const seen = observed ?? (clean ? undefined : inferredDenial(end.stderrTail.map((l) => withoutSeal(l, end.seal))))
  const result = end.result?.ok ? end.result.result : undefined
  if (result?.ok === false) return pluginFailure(result.error, seen)
  if (seen) return denied(seen)
  if (!clean) return crashed(end.exitCode, end.signal, end.stderrTail.map((l) => withoutSeal(l, end.seal)))
  if (!result) {
    const why = end.result && !end.result.ok ? end.result : { problem: 'missing' as const, message: 'the plugin wrote no result file' }
    return resultFailure(why.problem, `plugin exited without writing a valid result: ${why.message}`)
  }
  return { ok: true, output: result.output }
}

/** The denial the in-process guard announced on stderr with this attempt's seal, if any (any other marker is data). */
function markedDenial(tail: readonly string[], seal: string | undefined): PermissionDenial | undefined {
  for (const line of tail) {
    const d = sealedDenial(line, seal)
    if (d) return d
  }
  return undefined
}

/** A kernel refusal named in the stderr text of a plugin that failed: an inference, flagged as one. */
function inferredDenial(tail: readonly string[]): PermissionDenial | undefined {
  const d = detectDenial(tail)
  return d ? { ...d, inferred: true } : undefined
}

const denied = (d: PermissionDenial): Failure => ({ ok: false, error: denialError(d), denial: d })

function stopFailure(reason: StopReason, bounds: OutcomeBounds): Failure {
  switch (reason) {
    case 'timeout': return { ok: false, error: { code: ErrorCode.TaskTimedOut, message: `task timed out after ${formatMs(bounds.timeoutMs)}` } }
    case 'cancel': return { ok: false, error: { code: ErrorCode.Cancelled, message: 'task cancelled' } }
    case 'output': {
      const denial: PermissionDenial = { permission: 'output', target: `${bounds.maxOutputBytes} bytes` }
      return { ok: false, denial, error: { code: ErrorCode.ResourceLimit, message: `resource limit reached: plugin output exceeded ${bounds.maxOutputBytes} bytes` } }
    }
  }
}

function crashed(exitCode: number | null, signal: string | null, stderrTail: readonly string[]): Failure {
  const how = signal ? `was killed by ${signal}` : `exited with code ${exitCode}`
  const tail = stderrTail.slice(-5).join('\n')
  const error: ErrorInfo = { code: ErrorCode.PluginCrashed, message: `plugin ${how}${tail ? `: ${tail}` : ''}`, details: { exitCode, signal } }
  return { ok: false, error }
}

/** `5s` for whole seconds, `250ms` otherwise. */
const formatMs = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`)
