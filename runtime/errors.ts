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

/** HTTP status for each code: one table, used by the API's single onError. */
export const httpStatusOf: Record<ErrorCode, number> = {
  INVALID_INPUT: 400, INVALID_WORKFLOW: 400, INVALID_YAML: 400, INVALID_CONFIG: 400,
  CONFIG_NOT_FOUND: 400, NOT_FOUND: 404, CONFLICT: 409, UNAUTHORIZED: 401,
  SERVER_UNREACHABLE: 502, INVALID_TRANSITION: 409, PERMISSION_DENIED: 403,
  TASK_TIMED_OUT: 500, EXECUTION_TIMED_OUT: 500, CANCELLED: 409, INTERRUPTED: 500,
  PLUGIN_NOT_FOUND: 400, INVALID_MANIFEST: 400, PLUGIN_CRASHED: 500, PLUGIN_PROTOCOL_ERROR: 500,
  PLUGIN_ERROR: 500, INVALID_TASK_INPUT: 400, INVALID_TASK_OUTPUT: 500, TEMPLATE_ERROR: 400,
  SECRET_NOT_FOUND: 404, SECRET_KEY_MISSING: 503, SECRET_KEY_INVALID: 503, SECRET_INTEGRITY: 500,
  SANDBOX_UNAVAILABLE: 503, RESOURCE_LIMIT: 500, DOCKER_UNAVAILABLE: 503, WORKER_CRASHED: 500,
  RATE_LIMITED: 429, WORKFLOW_DISABLED: 409, INTERNAL: 500, REQUEST_TIMEOUT: 408, STORAGE_UNAVAILABLE: 503,
}

/** CLI exit code for each code: one table, used by the CLI's output module. */
export const exitCodeOf = (code: string): number => {
  switch (code) {
    case 'INVALID_INPUT': case 'INVALID_WORKFLOW': case 'INVALID_YAML': case 'TEMPLATE_ERROR':
    case 'INVALID_TASK_INPUT': case 'PLUGIN_NOT_FOUND': case 'INVALID_MANIFEST':
      return 2
    case 'INVALID_CONFIG': case 'CONFIG_NOT_FOUND': case 'SECRET_KEY_MISSING': case 'SECRET_KEY_INVALID':
      return 3
    case 'NOT_FOUND': case 'SECRET_NOT_FOUND':
      return 4
    case 'SERVER_UNREACHABLE':
      return 5
    case 'UNAUTHORIZED':
      return 6
    default:
      return 1
  }
}

export function assertNever(x: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(x)}`)
}
