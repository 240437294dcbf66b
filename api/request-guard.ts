/**
 * The first check on every request: a well-formed `Host` and an absolute URL, else 400 with the error envelope.
 * Bun hands a request without a usable Host a path-only `request.url` ("/health"), on which `new URL()` throws.
 */
import { ErrorCode } from '../runtime/errors.ts'
import { errorResponse } from './errors.ts'

// A DNS name (a trailing dot allowed) or IPv4 address, or a bracketed IPv6 literal (zone id allowed), and an
// optional port. Stricter than RFC 3986's reg-name on purpose: no percent-encoding, no sub-delims, so nothing odd
// reaches URL parsing or logs.
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?\.?|\[[0-9A-Fa-f:.]{2,45}(?:%25[A-Za-z0-9._~-]{1,32})?\])(?::(\d{1,5}))?$/

/** Whether `host` (a Host header value) is a hostname or address with an optional port in 1–65535. */
export function isValidHost(host: string): boolean {
  const m = HOST.exec(host)
  if (!m) return false
  return m[1] === undefined || (Number(m[1]) >= 1 && Number(m[1]) <= 65535)
}

/**
 * 400 INVALID_INPUT unless the URL is absolute and any Host header is well-formed; undefined when fine. Over the
 * network a missing or unusable Host leaves Bun's `request.url` path-only; a Request built in-process (`app.handle`)
 * has an absolute URL and no Host header, which is fine.
 */
export function checkRequestTarget(request: Request): Response | undefined {
  const host = request.headers.get('host')
  // Duplicate Host headers arrive joined with ", ", which the pattern refuses.
  if (!URL.canParse(request.url) || (host !== null && !isValidHost(host))) {
    return errorResponse(400, {
      code: ErrorCode.InvalidInput,
      message: host === null ? 'missing Host header' : 'malformed Host header: expected host[:port]',
      details: { path: 'headers.host' },
    }, { close: true })
  }
  return undefined
}
