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

/** The Host header's name without its port or trailing dot, lower-cased ("[::1]" keeps its brackets, "::1" gains them). */
export function hostName(host: string): string {
  // A bare IPv6 literal (a bind address or allowedHosts entry, "::1"; a Host header always brackets it).
  if (!host.startsWith('[') && host.indexOf(':') !== host.lastIndexOf(':')) return `[${host.toLowerCase()}]`
  const bracket = host.startsWith('[') ? host.indexOf(']') : -1
  const name = bracket > 0 ? host.slice(0, bracket + 1) : host.replace(/:\d+$/, '')
  return name.replace(/\.$/, '').toLowerCase()
}

const isLoopbackName = (name: string): boolean =>
  name === 'localhost' || name.endsWith('.localhost') || name === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(name)

/**
 * Which Host names the server answers to, against DNS rebinding (a page on another origin whose name an attacker
 * points at 127.0.0.1 reads what needs no key: the UI's files, /health, /metrics, /openapi/json). `allowed` names
 * them (loopback names always pass); empty means loopback names only when the server binds a loopback address, and any name otherwise.
 */
export function hostPolicy(bindHost: string, allowed: readonly string[]): (name: string) => boolean {
  const names = new Set(allowed.map((a) => hostName(a)))
  // Loopback names stay answered: a page whose Host is loopback has a loopback origin, not a rebound one, and the
  // image's HEALTHCHECK and a CLI on the same machine use them.
  if (names.size > 0) return (name) => names.has(name) || isLoopbackName(name)
  return isLoopbackName(hostName(bindHost)) ? isLoopbackName : () => true
}

/**
 * 400 INVALID_INPUT unless the URL is absolute and any Host header is well-formed and one the server answers to;
 * undefined when fine. Over the network a missing or unusable Host leaves Bun's `request.url` path-only; a Request
 * built in-process (`app.handle`) has an absolute URL and no Host header, which is fine.
 */
export function checkRequestTarget(request: Request, answersTo: (name: string) => boolean = () => true): Response | undefined {
  const host = request.headers.get('host')
  // Duplicate Host headers arrive joined with ", ", which the pattern refuses.
  if (!URL.canParse(request.url) || (host !== null && !isValidHost(host))) {
    return errorResponse(400, {
      code: ErrorCode.InvalidInput,
      message: host === null ? 'missing Host header' : 'malformed Host header: expected host[:port]',
      details: { path: 'headers.host' },
    }, { close: true })
  }
  if (host !== null && !answersTo(hostName(host))) {
    return errorResponse(400, {
      code: ErrorCode.InvalidInput,
      message: 'this server does not answer to that Host name (server.allowedHosts; loopback names only on a loopback bind)',
      details: { path: 'headers.host' },
    }, { close: true })
  }
  return undefined
}
