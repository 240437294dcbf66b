/** Stable error codes shared by the store, the engine, the API and the CLI. Codes are append-only. */

export const ErrorCode = {
  InvalidInput: 'INVALID_INPUT',
  InvalidWorkflow: 'INVALID_WORKFLOW',
  InvalidYaml: 'INVALID_YAML',
  InvalidConfig: 'INVALID_CONFIG',
  ConfigNotFound: 'CONFIG_NOT_FOUND',
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  Unauthorized: 'UNAUTHORIZED',
  ServerUnreachable: 'SERVER_UNREACHABLE',
  InvalidTransition: 'INVALID_TRANSITION',
  PermissionDenied: 'PERMISSION_DENIED',
  TaskTimedOut: 'TASK_TIMED_OUT',
  ExecutionTimedOut: 'EXECUTION_TIMED_OUT',
  Cancelled: 'CANCELLED',
  Interrupted: 'INTERRUPTED',
  PluginNotFound: 'PLUGIN_NOT_FOUND',
  InvalidManifest: 'INVALID_MANIFEST',
  PluginCrashed: 'PLUGIN_CRASHED',
  PluginProtocolError: 'PLUGIN_PROTOCOL_ERROR',
  PluginError: 'PLUGIN_ERROR',
  InvalidTaskInput: 'INVALID_TASK_INPUT',
  InvalidTaskOutput: 'INVALID_TASK_OUTPUT',
  TemplateError: 'TEMPLATE_ERROR',
  SecretNotFound: 'SECRET_NOT_FOUND',
  SecretKeyMissing: 'SECRET_KEY_MISSING',
  SecretKeyInvalid: 'SECRET_KEY_INVALID',
  SecretIntegrity: 'SECRET_INTEGRITY',
  SandboxUnavailable: 'SANDBOX_UNAVAILABLE',
  ResourceLimit: 'RESOURCE_LIMIT',
  DockerUnavailable: 'DOCKER_UNAVAILABLE',
  WorkerCrashed: 'WORKER_CRASHED',
  RateLimited: 'RATE_LIMITED',
  WorkflowDisabled: 'WORKFLOW_DISABLED',
  Internal: 'INTERNAL',
  RequestTimeout: 'REQUEST_TIMEOUT',
  /** The store cannot be written (disk full, I/O error, read-only, locked beyond the busy timeout): retry later. */
  StorageUnavailable: 'STORAGE_UNAVAILABLE',
  /**
   * The store already runs `cluster.maxConcurrentWorkflows` executions (every engine on it): a start waits for one to
   * end. Between an engine and its store only; no execution or request fails with it.
   */
  AtCapacity: 'AT_CAPACITY',
  /** An execution over its workflow's `concurrency` limit, created CANCELLED (`behavior: cancel-new`). */
  ConcurrencyLimit: 'CONCURRENCY_LIMIT',
  /** An expression went past its evaluation bound (cost or result size, runtime/expressions/limits.ts). */
  ExpressionLimit: 'EXPRESSION_LIMIT',
  /** A task's `if:` yielded something other than a boolean. */
  ConditionNotBoolean: 'CONDITION_NOT_BOOLEAN',
  /** An approval task was rejected by a person (`workflow execution reject`). */
  ApprovalRejected: 'APPROVAL_REJECTED',
  /** An approval task's `timeout` passed with no decision. */
  ApprovalTimedOut: 'APPROVAL_TIMED_OUT',
  /** A task's `forEach:` yielded something other than a list. */
  ForEachNotAList: 'FOR_EACH_NOT_A_LIST',
  /** A task's `forEach:` list is longer than `limits.maxForEachItems`. */
  ForEachTooManyItems: 'FOR_EACH_TOO_MANY_ITEMS',
  /** A subflow's child execution ended FAILED or CANCELLED (`details`: its id, state and error). */
  SubflowFailed: 'SUBFLOW_FAILED',
  /** A subflow would start a child deeper than `limits.maxSubflowDepth` (a recursion the apply-time check could not see). */
  SubflowDepthExceeded: 'SUBFLOW_DEPTH_EXCEEDED',
  /**
   * A path the engine grants or mounts by name (the plugin's directory or entry, the runtime, a `run` program, a
   * filesystem grant) is no longer what it checked: a symlink swapped in, another file, gone. Refused, not retried.
   */
  PathChanged: 'PATH_CHANGED',
  /**
   * The docker runner, on an engine that can look at its containers (root, the Docker host's /proc), could not verify
   * a container's bind mounts before the plugin's result was taken (the container was gone, /proc unreadable): the
   * attempt's output and result are dropped. Not retried.
   */
  MountUnverified: 'MOUNT_UNVERIFIED',
  /**
   * An executable the process sandbox would grant with its libraries (an exec entry, a `run` program, a `#!`
   * interpreter) names them with strings the engine does not take as plain (a newline, a space, `=>` in a DT_NEEDED,
   * a RUNPATH, a PT_INTERP), names an audit module, or needs a library the engine's resolution (library-closure.ts)
   * finds outside the allowed places, not a regular ELF shared object, nowhere, or cannot match to the loader's for
   * sure: nothing is granted, the launch is refused. Not retried.
   */
  UnsafeExecutable: 'UNSAFE_EXECUTABLE',
  /** A task's output files passed `storage.files.maxFileBytes`, `maxFilesPerTask` or the execution's `maxExecutionBytes` (nothing of the attempt is kept). */
  FileLimitExceeded: 'FILE_LIMIT_EXCEEDED',
  /** An output file the engine will not take: a symbolic link, a FIFO, a device, a socket, a file with other hard links, a path swapped while read. */
  FileRefused: 'FILE_REFUSED',
  /** No such stored file of the execution (download), or an `inputFiles` reference that names none of its files. */
  FileNotFound: 'FILE_NOT_FOUND',
  /** A script task's interpreter (Python 3) cannot be run on this server (docs/scripts.md). Not retried. */
  RuntimeUnavailable: 'RUNTIME_UNAVAILABLE',
  /** A script task's dependencies could not be installed (`message`: the installer's own words). Retried. */
  DependencyInstallFailed: 'DEPENDENCY_INSTALL_FAILED',
  /**
   * A `core/bash.exec` command (or a docker task's container, build, Compose run) exited non-zero, without
   * `failOnError: false` (`details`: its whole output: exitCode, stdout, stderr, truncated…).
   * Retried: a command may fail for a moment (a flaky network, a busy lock).
   */
  CommandFailed: 'COMMAND_FAILED',
  /** A `core/bash.exec` command (or a docker task) ran past its `timeoutMs` and was killed (`details`: its output, `timedOut: true`). Retried. */
  CommandTimedOut: 'COMMAND_TIMED_OUT',
  /**
   * A `core/git-source.checkout` whose git failed: the remote refused the credentials (`details.reason: auth`), the
   * ref is not there (`ref`), the remote could not be reached (`network`), or another git error (`git`); `message`
   * has git's last line, masked. Retried (a remote may be down for a moment; a retry policy decides).
   */
  GitFailed: 'GIT_FAILED',
  /**
   * An image is not present on the Docker engine that would use it (nothing is ever pulled): a script task's
   * `image:` (refused at apply and validate; an attempt fails with it when the image went away since,
   * docs/scripts.md), or what a docker task runs or builds from (docs/plugins.md#catalog-docker). Not retried.
   */
  ImageNotFound: 'IMAGE_NOT_FOUND',
  /** The path exists, but not with this method: HTTP 405 with `Allow` naming the methods it takes. */
  MethodNotAllowed: 'METHOD_NOT_ALLOWED',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** Plain-data error: what a failed task stores, what the API returns in `{ error }`, what crosses comlink. */
export interface ErrorInfo {
  code: ErrorCode
  message: string
  retryable?: boolean
  details?: unknown
}

export class AppError extends Error {
  override name = 'AppError'
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly retryable = false,
  ) {
    super(message)
  }

  toInfo(): ErrorInfo {
    const info: ErrorInfo = { code: this.code, message: this.message }
    if (this.details !== undefined) info.details = this.details
    if (this.retryable) info.retryable = true
    return info
  }
}

/** A result instead of a thrown error, for replies that cross a boundary. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorInfo }

export const ok = <T>(value: T): Result<T> => ({ ok: true, value })
export const err = <T = never>(error: ErrorInfo): Result<T> => ({ ok: false, error })

/** Turns anything thrown into an ErrorInfo without leaking a stack. */
export function toErrorInfo(e: unknown): ErrorInfo {
  if (e instanceof AppError) return e.toInfo()
  if (isErrorInfo(e)) return e
  const message = e instanceof Error ? e.message : String(e)
  return { code: ErrorCode.Internal, message }
}

export function isErrorInfo(v: unknown): v is ErrorInfo {
  return typeof v === 'object' && v !== null && typeof (v as ErrorInfo).code === 'string' &&
    typeof (v as ErrorInfo).message === 'string'
}

/** What each code means outside the process: its HTTP status, the CLI's exit code, and whether a task failing with it is retried. */
export interface ErrorTraits {
  /** The status the API answers with (`api/errors.ts`, the one onError). */
  http: number
  /** The CLI's exit code (`cli/output.ts`): 1 failed, 2 invalid input, 3 config, 4 not found, 5 unreachable, 6 unauthorized. */
  exit: number
  /**
   * Whether a task attempt that failed with this code is tried again when its `retry` policy has attempts left.
   * False where another attempt cannot change the outcome (a denial, a bad input or template, a missing plugin or
   * secret, a cancel or the execution's own timeout). Not the same as `ErrorInfo.retryable`, which marks one
   * error a caller may repeat as it is (a full disk, a rate limit).
   */
  retryable: boolean
}

const row = (http: number, exit: number, retryable = true): ErrorTraits => ({ http, exit, retryable })

/**
 * One row per code, the only place status, exit code and retry are decided; docs/api.md and docs/cli.md list the
 * same (errors.test.ts checks both). Every code must have a row: adding a code without one does not compile.
 */
export const ERROR_TABLE: Readonly<Record<ErrorCode, ErrorTraits>> = {
  INVALID_INPUT: row(400, 2),
  INVALID_WORKFLOW: row(400, 2, false),
  INVALID_YAML: row(400, 2),
  INVALID_CONFIG: row(400, 3),
  CONFIG_NOT_FOUND: row(400, 3),
  NOT_FOUND: row(404, 4),
  CONFLICT: row(409, 1),
  UNAUTHORIZED: row(401, 6),
  SERVER_UNREACHABLE: row(502, 5),
  INVALID_TRANSITION: row(409, 1),
  PERMISSION_DENIED: row(403, 1, false),
  TASK_TIMED_OUT: row(500, 1),
  EXECUTION_TIMED_OUT: row(500, 1, false),
  CANCELLED: row(409, 1, false),
  INTERRUPTED: row(500, 1),
  PLUGIN_NOT_FOUND: row(400, 2, false),
  INVALID_MANIFEST: row(400, 2, false),
  PLUGIN_CRASHED: row(500, 1),
  PLUGIN_PROTOCOL_ERROR: row(500, 1),
  PLUGIN_ERROR: row(500, 1),
  INVALID_TASK_INPUT: row(400, 2, false),
  INVALID_TASK_OUTPUT: row(500, 1),
  TEMPLATE_ERROR: row(400, 2, false),
  SECRET_NOT_FOUND: row(404, 4, false),
  SECRET_KEY_MISSING: row(503, 3),
  SECRET_KEY_INVALID: row(503, 3),
  SECRET_INTEGRITY: row(500, 1),
  SANDBOX_UNAVAILABLE: row(503, 1, false),
  RESOURCE_LIMIT: row(500, 1),
  DOCKER_UNAVAILABLE: row(503, 1),
  WORKER_CRASHED: row(500, 1),
  RATE_LIMITED: row(429, 1),
  WORKFLOW_DISABLED: row(409, 1),
  INTERNAL: row(500, 1),
  REQUEST_TIMEOUT: row(408, 1),
  STORAGE_UNAVAILABLE: row(503, 1),
  AT_CAPACITY: row(503, 1),
  CONCURRENCY_LIMIT: row(409, 1, false),
  EXPRESSION_LIMIT: row(400, 2, false),
  CONDITION_NOT_BOOLEAN: row(400, 2, false),
  APPROVAL_REJECTED: row(409, 1, false),
  APPROVAL_TIMED_OUT: row(409, 1, false),
  FOR_EACH_NOT_A_LIST: row(400, 2, false),
  FOR_EACH_TOO_MANY_ITEMS: row(400, 2, false),
  SUBFLOW_FAILED: row(409, 1),
  SUBFLOW_DEPTH_EXCEEDED: row(409, 1, false),
  PATH_CHANGED: row(409, 1, false),
  MOUNT_UNVERIFIED: row(409, 1, false),
  UNSAFE_EXECUTABLE: row(400, 2, false),
  FILE_LIMIT_EXCEEDED: row(413, 1, false),
  FILE_REFUSED: row(409, 1, false),
  FILE_NOT_FOUND: row(404, 4, false),
  RUNTIME_UNAVAILABLE: row(400, 2, false),
  DEPENDENCY_INSTALL_FAILED: row(424, 1),
  COMMAND_FAILED: row(500, 1),
  COMMAND_TIMED_OUT: row(500, 1),
  GIT_FAILED: row(502, 1),
  IMAGE_NOT_FOUND: row(400, 2, false),
  METHOD_NOT_ALLOWED: row(405, 2, false),
}

/** The row of a code; a code this build does not know (a newer server's) is treated as INTERNAL. */
const traitsOf = (code: string): ErrorTraits =>
  Object.hasOwn(ERROR_TABLE, code) ? ERROR_TABLE[code as ErrorCode] : ERROR_TABLE.INTERNAL

/** HTTP status of a code (500 for one it does not know). */
export const httpStatusOf = (code: string): number => traitsOf(code).http

/** CLI exit code of a code (1 for one it does not know). */
export const exitCodeOf = (code: string): number => traitsOf(code).exit

/** Whether a task failing with this code is retried under its retry policy (yes for a code it does not know). */
export const isRetryable = (code: string): boolean => !Object.hasOwn(ERROR_TABLE, code) || ERROR_TABLE[code as ErrorCode].retryable

export function assertNever(x: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(x)}`)
}
