/** What a plugin's result means for its task, the same for every runner: its own failure, or a bad result file. */

import { ErrorCode, type ErrorInfo } from '../../runtime/errors.ts'
import { detectDenialLine } from '../sdk/detect.ts'
import type { PluginErrorInfo } from '../sdk/protocol.ts'
import type { PermissionDenial } from '../runner.ts'
import { asDenial, RESOURCE_KINDS } from '../sdk/kinds.ts'
import type { ResultProblem } from './result-file.ts'

/** A failed attempt as a runner reports it (before its duration is added). */
export interface Failure {
  ok: false
  error: ErrorInfo
  denial?: PermissionDenial
}

/** The error a denial turns into, the same for every runner: a limit (RESOURCE_KINDS) is RESOURCE_LIMIT, a grant PERMISSION_DENIED. */
export function denialError(d: PermissionDenial, message?: string): { code: 'PERMISSION_DENIED' | 'RESOURCE_LIMIT'; message: string; details: PermissionDenial } {
  const limit = RESOURCE_KINDS.includes(d.permission)
  return {
    code: limit ? 'RESOURCE_LIMIT' : 'PERMISSION_DENIED',
    message: message ?? (limit ? `resource limit reached: ${d.permission} ${d.target}` : `permission denied: ${d.permission} ${d.target}`),
    details: d,
  }
}

/**
 * A plugin's own `{ok:false}`. A denial wins — the plugin's PERMISSION_DENIED details, else one the runner
 * saw (kernel events, the guard's sealed marker), else a kernel refusal named in the message of an error the plugin
 * gave no code of its own (e.g. an EACCES through bun:ffi, past any guard; inferred from text, so flagged
 * `inferred: true`) — and fails the task
 * PERMISSION_DENIED (or RESOURCE_LIMIT). Anything else is
 * PLUGIN_ERROR, keeping the plugin's own code in `details.pluginCode`.
 */
export function pluginFailure(e: PluginErrorInfo, seen: PermissionDenial | undefined): Failure {
  const fromPlugin = e.code === ErrorCode.PermissionDenied ? asDenial(e.details) : undefined
  // Only an error the plugin did not name (a thrown runtime error: PLUGIN_ERROR) is read for a refusal: a plugin that
  // gave its own code has said what failed, and its message may quote data (core/script's SCRIPT_FAILED quotes its
  // child's last stderr line).
  const unnamed = !e.code || e.code === ErrorCode.PluginError
  const named = fromPlugin || seen || !unnamed ? undefined : detectDenialLine(e.message)
  const found = fromPlugin ?? seen ?? (named ? { ...named, inferred: true as const } : undefined)
  if (found) return { ok: false, error: denialError(found, e.message), denial: found }
  const pluginCode = e.code && e.code !== ErrorCode.PluginError ? e.code : undefined
  // The plugin's own code is kept in `details.pluginCode` (docs/plugins.md), beside the details it gave as an object.
  const plain = e.details !== null && typeof e.details === 'object' && !Array.isArray(e.details)
  const details = pluginCode && (e.details === undefined || plain) ? { ...(e.details as object | undefined), pluginCode } : e.details
  return { ok: false, error: { code: ErrorCode.PluginError, message: e.message, ...(details !== undefined ? { details } : {}) } }
}

/** A result that was not accepted: past a bound it is INVALID_TASK_OUTPUT, otherwise a protocol error. */
export function resultFailure(problem: ResultProblem, message: string): Failure {
  const bound = problem === 'too-large' || problem === 'too-deep'
  return { ok: false, error: { code: bound ? ErrorCode.InvalidTaskOutput : ErrorCode.PluginProtocolError, message } }
}
