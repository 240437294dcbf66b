/**
 * Which methods a path takes, from the app's own routes: what turns a request for a known path with the wrong
 * method into 405 with `Allow` instead of 404 (api/errors.ts).
 */
import type { AnyElysia } from 'elysia'

interface Matcher { re: RegExp; method: string }

/** `/api/v1/workflows/:id` → a regex for the path, a trailing slash allowed (Elysia's strictPath is off). */
function toRegex(path: string): RegExp {
  const body = path.replace(/\/+$/, '').split('/').map((seg) => {
    if (seg === '*') return '.*'
    if (seg.startsWith(':')) return seg.endsWith('?') ? '[^/]*' : '[^/]+'
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  }).join('/')
  return new RegExp(`^${body}/?$`)
}

/** Returns `allowed(path)`: the methods registered for `path` (upper-case, sorted; HEAD with GET), read from `root()` lazily. */
export function allowedMethods(root: () => AnyElysia): (path: string) => string[] {
  let built: { count: number; matchers: Matcher[] } | undefined
  return (path) => {
    const routes = root().routes
    if (built?.count !== routes.length) {
      built = { count: routes.length, matchers: routes.map((r) => ({ re: toRegex(r.path), method: r.method.toUpperCase() })) }
    }
    const methods = new Set<string>()
    for (const m of built.matchers) if (m.re.test(path)) methods.add(m.method)
    if (methods.has('ALL')) return []
    if (methods.has('GET')) methods.add('HEAD')
    return [...methods].sort()
  }
}
