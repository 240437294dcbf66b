/** Reads a request's path without throwing: Bun gives a request without a usable Host a path-only `request.url`. */

/** The request's path: an absolute URL's pathname, else the URL up to `?` or `#`. Never throws. */
export function pathOf(request: Request): string {
  const url = request.url
  if (URL.canParse(url)) return new URL(url).pathname
  const end = url.search(/[?#]/)
  return end === -1 ? url : url.slice(0, end)
}
