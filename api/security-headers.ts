/**
 * Security headers on every response the API sends: no sniffing, no referrer, no framing, no caching, a CSP
 * that lets a JSON or text response load nothing, and one for the web UI and the OpenAPI page (this origin only).
 */

/** JSON and text responses load nothing and may not be framed. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/**
 * The web UI (/ui/…): its own bundle only — scripts and styles from this origin (no inline script, no inline style
 * attribute), API calls to this origin, images from this origin or data: URLs, no framing, no form posts.
 */
export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ')

/** The `/openapi` page is the UI's own viewer (ui/src/openapi.tsx): the same policy; it fetches `/openapi/json`. */
export const OPENAPI_PAGE_CSP = UI_CSP

const isUi = (path: string) => path === '/ui' || path.startsWith('/ui/')

const COMMON = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
  // A page of another origin that opens the UI (window.open) gets no live handle on it: it could otherwise re-point
  // the UI's hash route under the user's cursor. Harmless for JSON answers.
  'cross-origin-opener-policy': 'same-origin',
  // Nothing the API answers may be stored by a browser or a proxy: API data, errors and health alike.
  'cache-control': 'no-store',
} as const

/** The headers for a response to `path` (the OpenAPI page and the web UI get their own CSP; everything else the strict one). */
export function securityHeaders(path: string): Record<string, string> {
  return { ...COMMON, 'content-security-policy': path === '/openapi' || path === '/openapi/' ? OPENAPI_PAGE_CSP : isUi(path) ? UI_CSP : API_CSP }
}

/** Sets every security header `res` lacks (a handler's own choice wins); returns `res`. */
export function withSecurityHeaders(res: Response, path: string): Response {
  for (const [k, v] of Object.entries(securityHeaders(path))) if (!res.headers.has(k)) res.headers.set(k, v)
  return res
}
