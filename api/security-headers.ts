/**
 * Security headers on every response the API sends: no sniffing, no referrer, no framing, no caching, a CSP
 * that lets a JSON or text response load nothing, and its own CSP for the OpenAPI viewer page.
 */

/** JSON and text responses load nothing and may not be framed. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/**
 * The `/openapi` page (Scalar): its script comes from cdn.jsdelivr.net today (a later issue serves it locally;
 * then this narrows to 'self'), it styles inline, loads fonts and images over https, and fetches `/openapi/json`.
 */
export const OPENAPI_PAGE_CSP = [
  "default-src 'none'",
  'script-src https://cdn.jsdelivr.net',
  "style-src 'self' 'unsafe-inline' https:",
  "font-src 'self' https: data:",
  "img-src 'self' https: data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ')

const COMMON = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
  // Nothing the API answers may be stored by a browser or a proxy: API data, errors and health alike.
  'cache-control': 'no-store',
} as const

/** The headers for a response to `path` (the OpenAPI page gets its own CSP; everything else the strict one). */
export function securityHeaders(path: string): Record<string, string> {
  return { ...COMMON, 'content-security-policy': path === '/openapi' || path === '/openapi/' ? OPENAPI_PAGE_CSP : API_CSP }
}

/** Sets every security header `res` lacks (a handler's own choice wins); returns `res`. */
export function withSecurityHeaders(res: Response, path: string): Response {
  for (const [k, v] of Object.entries(securityHeaders(path))) if (!res.headers.has(k)) res.headers.set(k, v)
  return res
}
