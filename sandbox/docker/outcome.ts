/** Deciding a container run's outcome (exit state + result → RunOutcome); the result is read by sandbox/outcome/. */

import { ErrorCode, type ErrorInfo } from '../../runtime/errors.ts'
import { DENIAL_MARKER, detectDenial, detectDenialLine } from '../permissions/detect.ts'
import { pluginFailure, resultFailure } from '../outcome/plugin-result.ts'
import type { ResultRead } from '../outcome/result-file.ts'
import type { RunOutcome } from '../runner.ts'

/** Why the engine stopped the container itself, if it did. */
export type StopReason = 'timeout' | 'cancel' | 'output'

/** What is known once the container is gone. */
export interface ExitState {
  stopReason?: StopReason
  exitCode: number
  oomKilled: boolean
  stderrTail: string[]
  /** The result file as read (ResultRead), or `not read` when the container was stopped or OOM-killed. */
  result: ResultRead
  timeoutMs: number
  memoryMb: number
  maxOutputBytes: number
}

type Failure = Omit<Extract<RunOutcome, { ok: false }>, 'durationMs'>
type Decided = Omit<Extract<RunOutcome, { ok: true }>, 'durationMs'> | Failure

const fail = (code: ErrorInfo['code'], message: string, extra: Partial<Failure> = {}): Failure => ({
  ok: false,
  error: { code, message },
  ...extra,
})

/** Decides the outcome; the order matters: the engine's own stop reasons, then OOM, then the plugin's word. */
export function decideOutcome(s: ExitState): Decided {
  switch (s.stopReason) {
    case 'timeout':
      return fail(ErrorCode.TaskTimedOut, `task timed out after ${s.timeoutMs} ms; its container was killed and removed`)
    case 'cancel':
      return fail(ErrorCode.Cancelled, 'task cancelled; its container was killed and removed')
    case 'output':
      return fail(ErrorCode.ResourceLimit, `plugin output exceeded ${s.maxOutputBytes} bytes; its container was killed`, {
        denial: { permission: 'output', target: `${s.maxOutputBytes} bytes` },
      })
  }
  if (s.oomKilled) {
    return fail(ErrorCode.ResourceLimit, `plugin exceeded its memory limit of ${s.memoryMb} MB and was killed`, {
      denial: { permission: 'memory', target: `${s.memoryMb}MB` },
    })
  }
  // Same rule as the process runner: a guard marker on stderr fails the task even when the plugin swallowed
  // the error; kernel refusal messages count only when the plugin did not exit cleanly.
  const marked = s.stderrTail.find((l) => l.includes(DENIAL_MARKER))
  const denial = (marked && detectDenialLine(marked)) || (s.exitCode !== 0 ? detectDenial(s.stderrTail) : undefined)
  const r = s.result
  if (r.ok && r.result.ok === false) return pluginFailure(r.result.error, denial)
  if (denial) {
    const message = `permission denied: ${denial.permission} ${denial.target}`
    return { ok: false, error: { code: ErrorCode.PermissionDenied, message, details: denial }, denial }
  }
  if (s.exitCode !== 0) {
    const last = s.stderrTail.slice(-5)
    const tail = last.length ? `; last stderr: ${last.join(' | ')}` : ''
    const message = `plugin exited with code ${s.exitCode}${tail}`
    return { ok: false, error: { code: ErrorCode.PluginCrashed, message, details: { exitCode: s.exitCode } } }
  }
  if (!r.ok) return resultFailure(r.problem, r.message)
  return { ok: true, output: r.result.ok ? r.result.output : null }
}
