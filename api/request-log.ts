/**
 * The request log and the HTTP metrics: one record per answered request — method, the route's pattern (never the
 * path a client sent, so no webhook key, id or query string reaches a log or a label), status and duration.
 */
import { Elysia, type PreContext } from 'elysia'
import { loggablePath, pathOf } from './request-path.ts'
import { routeMatcher } from './route-pattern.ts'

/** One answered request, as the server logs it. */
export interface RequestRecord {
  method: string
  /**
   * The matched route's pattern (`/api/v1/workflows/:id`; for a request refused before routing, the pattern its path
   * fits), or `unmatched` when none does (a 404).
   */
  route: string
  /** For `unmatched` requests only: the path with any webhook key redacted (loggablePath), for the log line. */
  path?: string
  status: number
  /** Milliseconds from the request's arrival to its answer (to the first byte for streams). */
  ms: number
}

export type RequestLogger = (r: RequestRecord) => void

export interface RequestObserver {
  observeRequest(method: string, route: string, status: number, seconds: number): void
}

/** Methods are labels: anything else a client sends is one label, not one series per invented method. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/**
 * The request log as an Elysia plugin (`plugin`, to be the first one `use`d so its start time is taken before any
 * other hook can answer) and `early`, which wraps an onRequest hook: a response such a hook returns ends the request
 * before any route, and Elysia runs no later hook for it. Durations come from `performance.now()` (monotonic), not
 * the app's clock: they measure this process, not domain time.
 */
export function createRequestLog(metrics: RequestObserver, log?: RequestLogger, routes: () => readonly { method: string; path: string }[] = () => []) {
  const started = new WeakMap<Request, number>()
  const patternOf = routeMatcher(routes)
  const record = (request: Request, route: string | undefined, status: number) => {
    const start = started.get(request)
    const ms = start === undefined ? 0 : performance.now() - start
    const pattern = typeof route === 'string' && route !== '' ? route : 'unmatched'
    const method = METHODS.has(request.method) ? request.method : 'OTHER'
    metrics.observeRequest(method, pattern, status, ms / 1000)
    log?.({ method, route: pattern, status, ms: Math.round(ms * 10) / 10,
      ...(pattern === 'unmatched' ? { path: loggablePath(pathOf(request)).slice(0, 200) } : {}) })
  }
  const plugin = new Elysia({ name: 'request-log' })
    .onRequest(({ request }) => { started.set(request, performance.now()) })
    // A no-op, but with one registered Elysia hands the error hook's Response to onAfterResponse.
    .mapResponse({ as: 'global' }, () => undefined)
    .onAfterResponse({ as: 'global' }, (c) => {
      // A handler's own Response keeps its status there; `set.status` is what hooks and the error hook set.
      const value = 'responseValue' in c ? c.responseValue : undefined
      record(c.request, c.route, value instanceof Response ? value.status : typeof c.set.status === 'number' ? c.set.status : 200)
    })
  return {
    plugin,
    early(hook: (c: PreContext) => Response | undefined): (c: PreContext) => Response | undefined {
      return (c) => {
        const res = hook(c)
        if (res) record(c.request, patternOf(c.request.method, pathOf(c.request)), res.status)
        return res
      }
    },
  }
}
