/** Reading a request body under a size cap and a deadline, for routes that must not buffer what nobody asked for. */
import type { Clock } from '../runtime/clock.ts'
import { AppError, ErrorCode } from '../runtime/errors.ts'

/** Whether the request announces a body (so a refusal that leaves it unread should close the connection). */
export function hasBody(request: Request): boolean {
  return request.headers.has('transfer-encoding') || Number(request.headers.get('content-length') ?? 0) > 0
}

export interface ReadBodyOptions {
  maxBytes: number
  /** The whole body must have arrived by then (ms from the call), else REQUEST_TIMEOUT. */
  deadlineMs: number
  clock: Clock
}

const TIMED_OUT = Symbol('timed out')

/**
 * Reads the body as UTF-8 text. INVALID_INPUT as soon as it passes `maxBytes` (by Content-Length before reading,
 * or while streaming), REQUEST_TIMEOUT when it has not all arrived by the deadline (a body trickled byte by
 * byte), INVALID_INPUT when the client goes away mid-body. Reading stops at once in each case.
 */
export async function readBody(request: Request, { maxBytes, deadlineMs, clock }: ReadBodyOptions): Promise<string> {
  const tooLarge = () => new AppError(ErrorCode.InvalidInput, `request body exceeds ${maxBytes} bytes`, { path: 'body', maxBytes })
  if (Number(request.headers.get('content-length') ?? 0) > maxBytes) throw tooLarge()
  if (!request.body) return ''
  const reader = request.body.getReader()
  const stop = new AbortController()
  // Settles only when the time is up; once aborted (the body is read) it stays pending and is dropped.
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    clock.sleep(deadlineMs, stop.signal).then(() => resolve(TIMED_OUT), () => {})
  })
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), deadline])
      if (next === TIMED_OUT) {
        throw new AppError(ErrorCode.RequestTimeout, `request body not received within ${deadlineMs / 1000}s`, { path: 'body', deadlineMs })
      }
      if (next.done) break
      size += next.value.byteLength
      if (size > maxBytes) throw tooLarge()
      chunks.push(next.value)
    }
  } catch (e) {
    await reader.cancel().catch(() => {})
    if (e instanceof AppError) throw e
    throw new AppError(ErrorCode.InvalidInput, 'request body could not be read (the client closed the connection?)', { path: 'body' })
  } finally {
    stop.abort()
  }
  return Buffer.concat(chunks).toString('utf8')
}
