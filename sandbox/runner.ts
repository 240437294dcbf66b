/** The one interface every sandbox backend (process, docker) implements. */

import type { ErrorInfo } from '../runtime/errors.ts'
import type { Permissions, LoadedPlugin } from './manifest.ts'
import type { InvocationContext, LogLevel } from './protocol.ts'
import { RESOURCE_KINDS, type PermissionKind } from './permissions/kinds.ts'

export interface PluginLogLine {
  level: LogLevel
  message: string
  stream: 'stdout' | 'stderr' | 'engine'
  /** A piece of an over-long line cut by the runner: the line continues in the next line of the same stream. */
  partial?: boolean
}

/** A permission the kernel or the engine refused, reported for the audit trail. */
export interface PermissionDenial {
  permission: PermissionKind
  target: string
}

/** Limits rather than grants: hitting one fails the task with RESOURCE_LIMIT instead of PERMISSION_DENIED. */
export const RESOURCE_PERMISSIONS = RESOURCE_KINDS

/** The error a denial turns into, the same for every runner. */
export function denialError(d: PermissionDenial, message?: string): { code: 'PERMISSION_DENIED' | 'RESOURCE_LIMIT'; message: string; details: PermissionDenial } {
  const limit = RESOURCE_PERMISSIONS.includes(d.permission)
  return {
    code: limit ? 'RESOURCE_LIMIT' : 'PERMISSION_DENIED',
    message: message ?? (limit ? `resource limit reached: ${d.permission} ${d.target}` : `permission denied: ${d.permission} ${d.target}`),
    details: d,
  }
}

export interface RunRequest {
  plugin: LoadedPlugin
  action: string
  input: unknown
  context: InvocationContext
  /** Effective permissions: the manifest's, narrowed by the task. */
  permissions: Permissions
  /** Environment given to the plugin: only declared variables (already resolved). */
  env: Record<string, string>
  timeoutMs: number
  /** Aborted on cancel; the runner must kill everything it started. */
  signal: AbortSignal
  onLog(line: PluginLogLine): void
  /** Told the isolation mechanisms in force for this attempt (e.g. `landlock:abi7`, `netns`), for the audit trail. */
  onLaunch?(mechanisms: string[]): void
}

export type RunOutcome =
  | { ok: true; output: unknown; durationMs: number }
  | { ok: false; error: ErrorInfo; durationMs: number; denial?: PermissionDenial }

export interface Runner {
  readonly kind: 'process' | 'docker'
  run(req: RunRequest): Promise<RunOutcome>
}
