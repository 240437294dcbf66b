/**
 * What one attempt's end means for its task, the same for every runner: the runner says what it saw (why it
 * stopped the plugin, the limits its instruments caught, the exit, the stderr tail, the result file as read),
 * this decides. Denial lines are read by sandbox/sdk/detect.ts (the guest writes them, the engine reads them).
 */

import { ErrorCode, type ErrorInfo } from '../../runtime/errors.ts'
import { DENIAL_MARKER, detectDenial, detectDenialLine } from '../sdk/detect.ts'
import type { PermissionDenial } from '../runner.ts'
import { denialError, pluginFailure, resultFailure, type Failure } from './plugin-result.ts'
import type { ResultRead } from './result-file.ts'

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
  /** The last lines of the plugin's stderr. */
  stderrTail: readonly string[]
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
 * 1. a stop by the engine (timeout, cancel, output cap), unless the runner saw a denial, which explains the stop
 *    better (a fork bomb held at pids.max spins until the timeout; the task fails RESOURCE_LIMIT pids);
 * 2. the plugin's own `{ok:false}` (PLUGIN_ERROR; a denial it or the runner names wins: PERMISSION_DENIED);
 * 3. a denial seen without one: a limit, the guard's stderr marker (even after a clean exit: the plugin may have
 *    swallowed the error), or a kernel refusal named on stderr by a plugin that did not exit cleanly;
 * 4. an unclean exit (PLUGIN_CRASHED, quoting the stderr tail);
 * 5. the result file: missing or malformed (PLUGIN_PROTOCOL_ERROR), past its bounds (INVALID_TASK_OUTPUT), or the output.
 */
export function decideOutcome(end: AttemptEnd, bounds: OutcomeBounds): Decided {
  const clean = end.exitCode === 0 && end.signal === null
  const seen = end.limit ?? markedDenial(end.stderrTail) ?? (clean ? undefined : detectDenial(end.stderrTail))
  if (end.stopped) {
    const own = stopFailure(end.stopped, bounds)
    if (seen && seen.permission !== own.denial?.permission) return denied(seen)
    return own
  }
  const result = end.result?.ok ? end.result.result : undefined
  if (result?.ok === false) return pluginFailure(result.error, seen)
  if (seen) return denied(seen)
  if (!clean) return crashed(end)
  if (!result) {
    const why = end.result && !end.result.ok ? end.result : { problem: 'missing' as const, message: 'the plugin wrote no result file' }
    return resultFailure(why.problem, `plugin exited without writing a valid result: ${why.message}`)
  }
  return { ok: true, output: result.output }
}

/** The denial the in-process guard announced on stderr (`::error::PERMISSION_DENIED <kind> <target>`), if any. */
function markedDenial(tail: readonly string[]): PermissionDenial | undefined {
  const marked = tail.find((l) => l.includes(DENIAL_MARKER))
  return marked ? detectDenialLine(marked) : undefined
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

function crashed(end: AttemptEnd): Failure {
  const how = end.signal ? `was killed by ${end.signal}` : `exited with code ${end.exitCode}`
  const tail = end.stderrTail.slice(-5).join('\n')
  const error: ErrorInfo = { code: ErrorCode.PluginCrashed, message: `plugin ${how}${tail ? `: ${tail}` : ''}`, details: { exitCode: end.exitCode, signal: end.signal } }
  return { ok: false, error }
}

/** `5s` for whole seconds, `250ms` otherwise. */
const formatMs = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`)
