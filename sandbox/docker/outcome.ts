/** Reading the result file and deciding a container run's outcome (exit state + result → RunOutcome). */

import { readFile, stat } from 'node:fs/promises'
import { ErrorCode, type ErrorInfo } from '../../runtime/errors.ts'
import type { PluginResult } from '../protocol.ts'
import { DENIAL_MARKER, detectDenial, detectDenialLine } from '../permissions/detect.ts'
import type { PermissionDenial, RunOutcome } from '../runner.ts'

/** A result file bigger than this is refused rather than parsed. */
export const MAX_RESULT_BYTES = 64 * 1024 * 1024

/** Why the engine stopped the container itself, if it did. */
export type StopReason = 'timeout' | 'cancel' | 'output'

/** What is known once the container is gone. */
export interface ExitState {
  stopReason?: StopReason
  exitCode: number
  oomKilled: boolean
  stderrTail: string[]
  result: PluginResult | { invalid: string }
  timeoutMs: number
  memoryMb: number
  maxOutputBytes: number
}

type Failure = Omit<Extract<RunOutcome, { ok: false }>, 'durationMs'>
type Decided = Omit<Extract<RunOutcome, { ok: true }>, 'durationMs'> | Failure

/** Reads and validates the result file written by the plugin. */
export async function readResult(path: string): Promise<PluginResult | { invalid: string }> {
  let text: string
  try {
    const size = (await stat(path)).size
    if (size > MAX_RESULT_BYTES) return { invalid: `result file is ${size} bytes (max ${MAX_RESULT_BYTES})` }
    text = await readFile(path, 'utf8')
  } catch {
    return { invalid: 'the plugin wrote no result file' }
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return { invalid: 'the result file is not valid JSON' }
  }
  if (typeof parsed === 'object' && parsed !== null) {
    const r = parsed as { ok?: unknown; output?: unknown; error?: { message?: unknown } }
    if (r.ok === true) return { ok: true, output: r.output ?? null }
    if (r.ok === false && typeof r.error?.message === 'string') return parsed as PluginResult
  }
  return { invalid: 'the result file is not {ok:true,output} or {ok:false,error:{message}}' }
}

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
  const r = s.result
  // Same rule as the process runner: a guard marker on stderr fails the task even when the plugin swallowed
  // the error; kernel refusal messages count only when the plugin did not exit cleanly.
  const marked = s.stderrTail.find((l) => l.includes(DENIAL_MARKER))
  const denial = (marked && detectDenialLine(marked)) || (s.exitCode !== 0 ? detectDenial(s.stderrTail) : undefined)
  if ('ok' in r && r.ok === false) return pluginFailure(r.error, denial)
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
  if ('invalid' in r) return fail(ErrorCode.PluginProtocolError, r.invalid)
  return { ok: true, output: r.output }
}

/** A plugin's own `{ok:false}`: PERMISSION_DENIED passes through (with its denial), anything else is PLUGIN_ERROR. */
function pluginFailure(e: { code?: string; message: string; details?: unknown }, seen: PermissionDenial | undefined): Failure {
  const denied = e.code === ErrorCode.PermissionDenied
  const error: ErrorInfo = { code: denied ? ErrorCode.PermissionDenied : ErrorCode.PluginError, message: e.message }
  if (e.details !== undefined) error.details = e.details
  else if (e.code && !denied) error.details = { pluginCode: e.code }
  const denial = denied ? asDenial(e.details) ?? seen : seen
  return denial ? { ok: false, error, denial } : { ok: false, error }
}

const PERMISSIONS = new Set<PermissionDenial['permission']>([
  'network', 'filesystem.read', 'filesystem.write', 'env', 'run', 'memory', 'pids', 'output',
])

function asDenial(d: unknown): PermissionDenial | undefined {
  if (typeof d !== 'object' || d === null) return undefined
  const { permission, target } = d as { permission?: unknown; target?: unknown }
  if (typeof permission !== 'string' || !PERMISSIONS.has(permission as PermissionDenial['permission'])) return undefined
  return { permission: permission as PermissionDenial['permission'], target: typeof target === 'string' ? target : String(target ?? '') }
}
