/** Reads a request's path without throwing (Bun gives a request without a usable Host a path-only `request.url`), and redacts it for logs. */

/** The request's path: an absolute URL's pathname, else the URL up to `?` or `#`. Never throws. */
export function pathOf(request: Request): string {
  const url = request.url
  if (URL.canParse(url)) return new URL(url).pathname
  const end = url.search(/[?#]/)
  return end === -1 ? url : url.slice(0, end)
}

/** The path as a log line may show it: a webhook's key (a credential) replaced by `***`. */
export function loggablePath(path: string): string {
  return path.replace(/^(\/api\/v1\/webhooks\/[^/]*\/).*/, '$1***')
}
