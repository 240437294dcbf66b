/**
 * The typed client over `App` (Eden Treaty), used by the CLI for every remote call and by programs.
 * `call()` unwraps a result, turning failures into AppErrors with the API's stable codes.
 */
import { treaty, type Treaty } from '@elysiajs/eden'
import { AppError, ErrorCode, isErrorInfo, type ErrorInfo } from '../runtime/errors.ts'
import type { App } from './app.ts'

/** Creates a client for `url` (e.g. `http://127.0.0.1:7233`) sending `apiKey` as a Bearer token. */
export function createClient(url: string, apiKey?: string): Treaty.Create<App> {
  return treaty<App>(url.replace(/\/+$/, ''), {
    headers: apiKey !== undefined ? { authorization: `Bearer ${apiKey}` } : {},
  })
}

export type Client = Treaty.Create<App>

/** The shape every Eden call resolves to (loosely: only what `call` reads). */
interface EdenResult<T> {
  data: T
  error: { status: unknown; value: unknown } | null
  status: number
  response?: Response
}

/**
 * Resolves to the call's data, or throws an AppError: SERVER_UNREACHABLE when no HTTP answer came,
 * otherwise the `{ error }` body the server sent (UNAUTHORIZED, NOT_FOUND…), or one made from the status.
 */
export async function call<T>(request: Promise<EdenResult<T>>, url = 'the server'): Promise<Exclude<T, null | undefined>> {
  let result: EdenResult<T>
  try {
    result = await request
  } catch (e) {
    throw unreachable(url, e)
  }
  if (result.error === null) return result.data as Exclude<T, null | undefined>
  if (result.response === undefined) throw unreachable(url, result.error.value)
  throw toAppError(result.status, result.error.value)
}

/** Maps an HTTP error answer to an AppError, preferring the server's `{ error }` body. */
export function toAppError(status: number, body: unknown): AppError {
  const info = (body as { error?: unknown } | null)?.error
  if (isErrorInfo(info)) return new AppError(info.code, info.message, info.details)
  const code: ErrorInfo['code'] = status === 401 ? ErrorCode.Unauthorized : status === 404 ? ErrorCode.NotFound
    : status === 400 ? ErrorCode.InvalidInput : ErrorCode.Internal
  return new AppError(code, `server answered HTTP ${status}${typeof body === 'string' && body ? `: ${body.slice(0, 200)}` : ''}`)
}

function unreachable(url: string, cause: unknown): AppError {
  const code = (cause as { code?: unknown } | null)?.code
  const why = typeof code === 'string' ? code : cause instanceof Error ? cause.message : 'connection failed'
  return new AppError(ErrorCode.ServerUnreachable, `cannot reach ${url}: ${why} (is it running? try: workflow server status)`, { url })
}
