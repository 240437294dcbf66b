/**
 * The plugin wire protocol (version 1), shared by every runner and by the SDK.
 *
 * - The engine writes one `Invocation` as a single JSON document on the plugin's stdin, then closes it.
 * - Every line the plugin prints on stdout or stderr is an execution log line. stdout lines are INFO,
 *   stderr lines are ERROR, unless the line starts with a level marker: `::debug::`, `::info::`,
 *   `::warn::` or `::error::`.
 * - The plugin writes its `PluginResult` as JSON to the file named by `AUTOKESTRA_RESULT_FILE`
 *   (inside its private temp dir). Log output therefore can never corrupt the result.
 * - Exit code 0 with a valid result file is required for success; anything else fails the task.
 */

import type { ErrorInfo } from '../../runtime/errors.ts'

export const PROTOCOL_VERSION = 1

export interface Invocation {
  protocol: typeof PROTOCOL_VERSION
  action: string
  input: unknown
  context: InvocationContext
}

export interface InvocationContext {
  executionId: string
  workflowId: string
  taskId: string
  attempt: number
  /** `plugin:<ns>/<name>.<action>` */
  source: string
}

export type PluginResult = { ok: true; output: unknown } | { ok: false; error: PluginErrorInfo }

export interface PluginErrorInfo {
  code?: string
  message: string
  details?: unknown
}

export const LogLevel = { Debug: 'DEBUG', Info: 'INFO', Warn: 'WARN', Error: 'ERROR' } as const
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel]
export const LOG_LEVELS: readonly LogLevel[] = ['DEBUG', 'INFO', 'WARN', 'ERROR']

/** Environment variables the engine sets for every plugin, whatever its permissions. */
export const ProtocolEnv = {
  ResultFile: 'AUTOKESTRA_RESULT_FILE',
  TmpDir: 'TMPDIR',
  Home: 'HOME',
} as const

/** Splits a leading `::level::` marker off a plugin output line. */
export function parseLogLine(line: string, stream: 'stdout' | 'stderr'): { level: LogLevel; message: string } {
  const m = /^::(debug|info|warn|error)::/.exec(line)
  if (m) return { level: m[1]!.toUpperCase() as LogLevel, message: line.slice(m[0].length) }
  return { level: stream === 'stdout' ? 'INFO' : 'ERROR', message: line }
}

export type { ErrorInfo }
