/** Reads a request's path without throwing (Bun gives a request without a usable Host a path-only `request.url`), and redacts it for logs. */

/** The request's path: an absolute URL's pathname, else the URL up to `?` or `#`. Never throws. */
export function pathOf(request: Request): string {
  const url = request.url
  if (URL.canParse(url)) return new URL(url).pathname
  const end = url.search(/[?#]/)
  return end === -1 ? url : url.slice(0, end)
}

/** A workflow id as a path segment (runtime/workflow: `^[a-z0-9][a-z0-9-_]*$`), left in clear before a redacted key. */
const WORKFLOW_SEGMENT = /^[a-z0-9][a-z0-9_-]*$/

/** A segment percent-decoded and lower-cased, for recognising it however a client spelt it (`%77ebhooks`, `WEBHOOKS`). */
function decodedLower(segment: string): string {
  try {
    return decodeURIComponent(segment).toLowerCase()
  } catch {
    return segment.toLowerCase()
  }
}

/**
 * The path as a log line may show it: whatever follows a `webhooks` segment's workflow id — a webhook's key, a
 * credential — replaced by `***`. Wherever that segment is and however it is spelt (a doubled slash, a proxy's
 * prefix, `%77ebhooks`, `wf%2F<key>`, another case): a sender or proxy that gets the URL slightly wrong is a 404,
 * and its key is still real.
 */
export function loggablePath(path: string): string {
  const segments = path.split('/')
  const at = segments.findIndex((s) => decodedLower(s).includes('webhook'))
  if (at === -1) return path
  const kept = segments.slice(0, at)
  if (decodedLower(segments[at]!) !== 'webhooks') return [...kept, '***'].join('/')
  kept.push(segments[at]!)
  const workflow = segments[at + 1]
  if (workflow === undefined) return kept.join('/')
  if (!WORKFLOW_SEGMENT.test(workflow)) return [...kept, '***'].join('/')
  kept.push(workflow)
  return at + 2 < segments.length ? [...kept, '***'].join('/') : kept.join('/')
}
