/**
 * The API's one error mapping: AppError codes via `httpStatusOf` (runtime/errors.ts ERROR_TABLE), Elysia's own errors as 400/404
 * (405 with Allow for a known path asked with another method), a store
 * that cannot be written as 503 STORAGE_UNAVAILABLE with Retry-After, anything else 500.
 */
import { Elysia } from 'elysia'
import { AppError, ErrorCode, httpStatusOf, type ErrorInfo } from '../runtime/errors.ts'
import { STORAGE_RETRY_AFTER_SECONDS } from '../runtime/store/unavailable.ts'
import { pointerToSegments } from '../runtime/workflow/path.ts'
import { pathOf } from './request-path.ts'
import { withSecurityHeaders } from './security-headers.ts'

export interface ErrorResponseOptions {
  /**
   * Send `Connection: close`: for a refusal that leaves the request body unread, so the server neither reads
   * nor discards the rest of an upload nobody will use, and the client cannot reuse the connection.
   */
  close?: boolean
  headers?: Record<string, string>
}

/** Builds the JSON error response every route and hook uses (with the security headers). */
export function errorResponse(status: number, info: ErrorInfo, opts: ErrorResponseOptions = {}): Response {
  const error: { code: string; message: string; details?: unknown } = { code: info.code, message: info.message }
  if (info.details !== undefined) error.details = info.details
  const headers: Record<string, string> = { ...opts.headers, ...(opts.close ? { connection: 'close' } : {}) }
  if (info.code === ErrorCode.StorageUnavailable) headers['retry-after'] = String(STORAGE_RETRY_AFTER_SECONDS)
  const res = Response.json({ error }, { status, headers })
  return withSecurityHeaders(res, '')
}

/** The 500 every unexpected error becomes: no stack, no message from the error, only a pointer to the server log. */
export function internalErrorResponse(): Response {
  return errorResponse(500, { code: ErrorCode.Internal, message: 'internal error (see the server log)' })
}

/**
 * Bun.serve's own `error` option: the last resort when something throws outside Elysia's handling (as the
 * server's logger once did inside the error hook). Replaces Bun's error page with the envelope.
 */
export function serverErrorHandler(logInternal: (error: unknown) => void = () => {}): (error: Error) => Response {
  return (error) => {
    try {
      logInternal(error)
    } catch {
      // The logger failing must not turn into Bun's error page either.
    }
    return internalErrorResponse()
  }
}

/** Called with unexpected errors (the server logs them; the client only sees `INTERNAL`); no request at Bun's level. */
export type InternalErrorLogger = (error: unknown, request?: Request) => void

interface ValidationLike {
  type?: string
  valueError?: { path?: string; message?: string; schema?: { anyOf?: { type?: string }[] } }
  /** A schema's own `error` (api/models/common.ts): `"<path>: <problem>"`, for values Elysia checks without their name. */
  customError?: unknown
}

/** `{ path, message }` from a schema's `error` of the form `query.limit: expected …`. */
function customProblem(e: ValidationLike): { path: string; message: string } | undefined {
  const m = typeof e.customError === 'string' ? /^([a-zA-Z][\w.]*): (.+)$/s.exec(e.customError) : null
  return m ? { path: m[1]!, message: e.customError as string } : undefined
}

/** TypeBox says "Expected union value" for coerced numbers and alternatives: name the alternatives instead. */
function validationProblem(e: ValidationLike): string {
  const v = e.valueError
  let alternatives = v?.schema?.anyOf?.map((s) => s.type).filter((s): s is string => typeof s === 'string')
  // Query and params arrive as strings: the string branch is Elysia's coercion, not an alternative.
  if (e.type === 'query' || e.type === 'params') alternatives = alternatives?.filter((a) => a !== 'string')
  if (v?.message === 'Expected union value' && alternatives?.length) {
    return `expected ${[...new Set(alternatives)].map((a) => (a === 'object' ? 'an object' : `a${a === 'integer' ? 'n' : ''} ${a}`)).join(' or ')}`
  }
  return v?.message ?? 'invalid value'
}

/** `query /limit` → `query.limit` (the path clients see in `details.path`). */
function validationPath(e: ValidationLike): string {
  const segs = pointerToSegments(e.valueError?.path ?? '')
  // Elysia checks some coerced query values one at a time (type `property`), without their name.
  const where = e.type === 'property' ? 'query' : (e.type ?? 'body')
  return [where, ...segs].join('.')
}

/**
 * The global onError plugin; `use` it first so it covers every route and hook. The store answers its own faults
 * as STORAGE_UNAVAILABLE (an AppError: 503 with Retry-After) and tells its health itself.
 */
export function errorHandler(logInternal: InternalErrorLogger = () => {}, allowed: (path: string) => string[] = () => []) {
  return new Elysia({ name: 'errors' }).onError({ as: 'global' }, ({ code, error, request }) => {
    if (error instanceof AppError) return errorResponse(httpStatusOf(error.code), error.toInfo())
    switch (code) {
      case 'VALIDATION': {
        const v = error as unknown as ValidationLike
        // An answer that does not match its route's declared schema is our bug, not the client's.
        if (v.type === 'response') {
          try {
            logInternal(error, request)
          } catch {
            // As below: never let the logger escape.
          }
          return internalErrorResponse()
        }
        const custom = customProblem(v)
        if (custom) return errorResponse(400, { code: ErrorCode.InvalidInput, message: custom.message, details: { path: custom.path } })
        const path = validationPath(v)
        const problem = validationProblem(v)
        return errorResponse(400, { code: ErrorCode.InvalidInput, message: `${path}: ${problem}`, details: { path } })
      }
      case 'PARSE': {
        // A route's own parse hook may refuse a body with an AppError (an oversized upload): keep its code.
        const cause = (error as { cause?: unknown }).cause
        if (cause instanceof AppError) return errorResponse(httpStatusOf(cause.code), cause.toInfo())
        return errorResponse(400, {
          code: ErrorCode.InvalidInput,
          message: 'malformed request body: it does not parse as its content-type says',
          details: { path: 'body' },
        })
      }
      case 'NOT_FOUND': {
        const path = pathOf(request)
        // The path exists with other methods: 405 with what it takes (RFC 9110 §15.5.6).
        const methods = allowed(path)
        if (methods.length > 0 && !methods.includes(request.method)) {
          return errorResponse(405, {
            code: ErrorCode.MethodNotAllowed,
            message: `${request.method} is not allowed on ${path} (allowed: ${methods.join(', ')})`,
          }, { headers: { allow: methods.join(', ') } })
        }
        return errorResponse(404, { code: ErrorCode.NotFound, message: `no route ${request.method} ${path}` })
      }
      case 'INVALID_COOKIE_SIGNATURE':
      case 'INVALID_FILE_TYPE':
        return errorResponse(400, { code: ErrorCode.InvalidInput, message: String((error as Error).message) })
      default:
        try {
          logInternal(error, request)
        } catch {
          // A throwing logger would escape Elysia and reach Bun.serve's error handler; answer here instead.
        }
        return internalErrorResponse()
    }
  })
}
