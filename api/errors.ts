/** The API's one error mapping: AppError codes via `httpStatusOf`, Elysia's own errors as 400/404, anything else 500. */
import { Elysia } from 'elysia'
import { AppError, ErrorCode, httpStatusOf, type ErrorInfo } from '../runtime/errors.ts'
import { pointerToSegments } from '../runtime/workflow/path.ts'

/** Builds the JSON error response every route and hook uses. */
export function errorResponse(status: number, info: ErrorInfo): Response {
  const error: { code: string; message: string; details?: unknown } = { code: info.code, message: info.message }
  if (info.details !== undefined) error.details = info.details
  return Response.json({ error }, { status })
}

/** Called with unexpected errors (the server logs them; the client only sees `INTERNAL`). */
export type InternalErrorLogger = (error: unknown, request: Request) => void

interface ValidationLike {
  type?: string
  valueError?: { path?: string; message?: string; schema?: { anyOf?: { type?: string }[] } }
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

/** The global onError plugin; `use` it first so it covers every route and hook. */
export function errorHandler(logInternal: InternalErrorLogger = () => {}) {
  return new Elysia({ name: 'errors' }).onError({ as: 'global' }, ({ code, error, request }) => {
    if (error instanceof AppError) return errorResponse(httpStatusOf[error.code] ?? 500, error.toInfo())
    switch (code) {
      case 'VALIDATION': {
        const v = error as unknown as ValidationLike
        const path = validationPath(v)
        const problem = validationProblem(v)
        return errorResponse(400, { code: ErrorCode.InvalidInput, message: `${path}: ${problem}`, details: { path } })
      }
      case 'PARSE': {
        // A route's own parse hook may refuse a body with an AppError (an oversized upload): keep its code.
        const cause = (error as { cause?: unknown }).cause
        if (cause instanceof AppError) return errorResponse(httpStatusOf[cause.code] ?? 400, cause.toInfo())
        return errorResponse(400, {
          code: ErrorCode.InvalidInput,
          message: 'malformed request body: it does not parse as its content-type says',
          details: { path: 'body' },
        })
      }
      case 'NOT_FOUND': {
        const url = new URL(request.url)
        return errorResponse(404, { code: ErrorCode.NotFound, message: `no route ${request.method} ${url.pathname}` })
      }
      case 'INVALID_COOKIE_SIGNATURE':
      case 'INVALID_FILE_TYPE':
        return errorResponse(400, { code: ErrorCode.InvalidInput, message: String((error as Error).message) })
      default:
        logInternal(error, request)
        return errorResponse(500, { code: ErrorCode.Internal, message: 'internal error (see the server log)' })
    }
  })
}
