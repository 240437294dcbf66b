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
 *
 * Version 2 (warm processes, docs/plugins.md#protocol-2): one process serves many invocations, one at a time.
 * - The engine writes each invocation as one line of JSON on stdin (`InvokeFrame`); end of stdin means exit now.
 * - The plugin answers each on the result channel, a pipe the engine owns at descriptor `AUTOKESTRA_RESULT_FD`
 *   (nothing else writes there: logs go to stdout and stderr as in version 1), as one line of JSON (`PluginFrame`).
 * - Before its result frame, a plugin may print `END_MARKER` + the invocation id as a line on stdout and on
 *   stderr, and say so (`marked: true`): the engine then gives the invocation every line up to those markers.
 */

import type { ErrorInfo } from '../../runtime/errors.ts'

export const PROTOCOL_VERSION = 1

export interface Invocation {
  protocol: typeof PROTOCOL_VERSION
  action: string
  input: unknown
  context: InvocationContext
  /** The task's input files (`inputFiles:`), placed read-only in the working dir: name → absolute path (`ctx.files`). */
  files?: Record<string, string>
  /** Where input files are placed and `outputFiles:` globs are taken from: the working dir (process runner), `/out` (docker). */
  filesDir?: string
  /**
   * This attempt's denial seal (128 random bits, hex), for Bun plugins only (the boot hands it to the guard): a
   * `PERMISSION_DENIED` marker on stderr counts only when it carries it (sandbox/sdk/detect.ts). An exec plugin never
   * gets one (decide.ts `denialSealFor`): nothing it holds is kept from its children (docs/security.md#denials).
   */
  denialSeal?: string
}

/** Set in a version-2 process's environment: the protocol it is spoken to in. */
export const PROTOCOL_V2 = 2

/** One invocation of a version-2 process, a line on its stdin. */
export interface InvokeFrame {
  type: 'invoke'
  /** Unique per invocation: the result frame and the end markers name it. */
  id: string
  protocol: typeof PROTOCOL_V2
  action: string
  input: unknown
  context: InvocationContext
  /** This invocation's own private temp dir (fresh, 0700): the plugin's TMPDIR and HOME for the invocation. */
  tmpDir: string
  /** This invocation's denial seal, as in protocol 1 (`Invocation.denialSeal`, Bun plugins only): fresh for every invocation. */
  denialSeal?: string
}

/** What the engine sends a version-2 process. */
export type EngineFrame = InvokeFrame

/** A version-2 process's answer to invocation `id`, a line on its result channel. */
export type ResultFrame = { type: 'result'; id: string; marked?: boolean } & PluginResult

/** What a version-2 process may write on its result channel (anything else ends the process). */
export type PluginFrame = ResultFrame

/** The line a version-2 plugin prints on stdout and stderr (followed by the invocation id) when its invocation's output ends. */
export const END_MARKER = '::autokestra-end::'

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
  /** Version 2: the protocol version the process is spoken to in (`2`). */
  Protocol: 'AUTOKESTRA_PROTOCOL',
  /** Version 2: the descriptor of the result channel. */
  ResultFd: 'AUTOKESTRA_RESULT_FD',
} as const

/** Splits a leading `::level::` marker off a plugin output line. */
export function parseLogLine(line: string, stream: 'stdout' | 'stderr'): { level: LogLevel; message: string } {
  const m = /^::(debug|info|warn|error)::/.exec(line)
  if (m) return { level: m[1]!.toUpperCase() as LogLevel, message: line.slice(m[0].length) }
  return { level: stream === 'stdout' ? 'INFO' : 'ERROR', message: line }
}

export type { ErrorInfo }
