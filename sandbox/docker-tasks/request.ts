/** What the engine gives a docker task's action, and how a CLI run becomes the task's outcome. */
import { AppError, ErrorCode, type ErrorInfo } from '../../runtime/errors.ts'
import type { Permissions } from '../manifest.ts'
import type { AttemptFiles, PluginLogLine, ResourceLimits } from '../runner.ts'
import type { InvocationContext } from '../sdk/protocol.ts'
import type { CliResult } from './cli.ts'

export interface DockerTaskRequest {
  /** `core/docker.run`, `core/docker.build`, `core/docker-compose.up`, `core/docker-compose.down`. */
  type: string
  /** The rendered input, checked against the action's input schema (defaults filled). */
  input: unknown
  /** The checked grant (sandbox/docker-tasks/grant.ts): `docker: true`, and `network: ['*:*']` or nothing. */
  grant: Permissions
  context: InvocationContext
  /** The task's time limit for this attempt. */
  timeoutMs: number
  signal: AbortSignal
  onLog(line: PluginLogLine): void
  /** The task's input files (docs/files.md): a build's context is staged from them. */
  files?: AttemptFiles
  limits: ResourceLimits
  /** Bytes of stdout and of stderr kept in the output (the log has every line). */
  keepBytes: number
}

/** What an action returns: the task's output, or an error that fails it. */
export type TaskResult = { ok: true; output: Record<string, unknown> } | { ok: false; error: ErrorInfo }

/**
 * A finished CLI run as the task's result, with `core/bash.exec`'s semantics (docs/plugins.md#corebashexec): a
 * non-zero exit fails the task COMMAND_FAILED and the action's own `timeoutMs` passing COMMAND_TIMED_OUT, each with
 * the whole output in `details` (so dependents do not run and `retry` applies); with `failOnError: false` the task
 * succeeds instead, `success: false` in its output, for a later task or `if:` to look at. The task's timeout passing
 * fails the task TASK_TIMED_OUT, a cancel CANCELLED, as for any task.
 */
export function finish(req: DockerTaskRequest, r: CliResult, invokedCommand: string, limitMs: number, extra: Record<string, unknown> = {}): TaskResult {
  if (r.stopped === 'cancel') return { ok: false, error: { code: ErrorCode.Cancelled, message: 'task cancelled' } }
  if (r.stopped === 'timeout' && limitMs >= req.timeoutMs) {
    return { ok: false, error: new AppError(ErrorCode.TaskTimedOut, `task timed out after ${req.timeoutMs} ms`, { timeoutMs: req.timeoutMs }).toInfo() }
  }
  const timedOut = r.stopped === 'timeout'
  const output = {
    success: !timedOut && r.exitCode === 0, exitCode: timedOut ? -1 : r.exitCode, durationMs: r.durationMs, timedOut,
    stdout: r.stdout, stderr: r.stderr, invokedCommand, ...extra,
    ...(r.truncated.stdout || r.truncated.stderr ? { truncated: r.truncated } : {}),
  }
  const failOnError = (req.input as { failOnError?: unknown } | null)?.failOnError !== false
  if (output.success || !failOnError) return { ok: true, output }
  const last = r.stderr.split('\n').filter((l) => l.trim() !== '').pop()
  if (timedOut) return { ok: false, error: { code: ErrorCode.CommandTimedOut, message: `${req.type} ran past its timeoutMs (${limitMs} ms) and was stopped`, details: output } }
  return { ok: false, error: { code: ErrorCode.CommandFailed, message: `${req.type} exited with code ${r.exitCode}${last ? `: ${last.slice(0, 500)}` : ''}`, details: output } }
}
