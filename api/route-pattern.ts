/**
 * The route pattern a request path would match (`/api/v1/workflows/:id`), for requests answered before Elysia routed
 * them (a 401 from the key check, a 400 from the request-target check): so the request log and the HTTP metrics
 * name their route too, and a label never holds a path a client chose.
 */

interface Compiled { pattern: string; method: string; segments: string[]; params: number }

/** A matcher over `routes` (read on first use: the app's routes are all registered by then). */
export function routeMatcher(routes: () => readonly { method: string; path: string }[]): (method: string, path: string) => string | undefined {
  let compiled: Compiled[] | undefined
  return (method, path) => {
    compiled ??= routes().map((r) => {
      const segments = r.path.split('/').filter((s) => s !== '')
      return { pattern: r.path, method: r.method, segments, params: segments.filter((s) => s.startsWith(':') || s === '*').length }
    }).sort((a, b) => a.params - b.params) // a literal segment wins over a parameter
    const parts = path.split('/').filter((s) => s !== '')
    const fits = (c: Compiled) => {
      for (let i = 0; i < c.segments.length; i++) {
        const s = c.segments[i]!
        if (s === '*') return true
        if (i >= parts.length || (!s.startsWith(':') && s !== parts[i])) return false
      }
      return c.segments.length === parts.length
    }
    return (compiled.find((c) => c.method === method && fits(c)) ?? compiled.find(fits))?.pattern
  }
}
