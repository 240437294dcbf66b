/** The error an execution ends with when a task failed, and the `{{ execution.error }}` onFailure and finally tasks read. */
import { ErrorCode, type ErrorInfo } from '../../runtime/errors.ts'
import type { RunPath } from '../../runtime/workflow/run-path.ts'
import type { ExecutionView } from './protocol.ts'

/** The error a FAILED run at `path` gives its execution. */
export function taskFailure(v: ExecutionView, path: RunPath): ErrorInfo {
  const e = v.tasks[path]!.error
  return { code: e?.code ?? ErrorCode.PluginError, message: `task ${path} failed: ${e?.message ?? 'unknown error'}`, details: { taskId: path } }
}

/** `execution.error` for templates, once the main list has failed (what onFailure and finally tasks read). */
export function executionError(v: ExecutionView): { error?: ErrorInfo } {
  const at = v.plan.firstFailed
  return at >= 0 ? { error: taskFailure(v, v.plan.paths[at]!) } : {}
}
