/** Hash routes (`#/executions/ex_1?tab=logs`): deep links work with one served page, no server-side routes. */
import { signal } from '@preact/signals'

export interface Route { path: string[]; params: URLSearchParams }

/** A segment as typed; a malformed escape (`%E0%A4%A`) stays as it is instead of throwing URIError (a blank UI). */
function decodeSegment(s: string): string {
  try { return decodeURIComponent(s) } catch { return s }
}

function parse(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '')
  const q = raw.indexOf('?')
  const path = (q >= 0 ? raw.slice(0, q) : raw).split('/').filter(Boolean).map(decodeSegment)
  return { path, params: new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '') }
}

export const route = signal<Route>(parse(location.hash))
addEventListener('hashchange', () => { route.value = parse(location.hash) })

/** The href of a route: `href('executions', id)` → `#/executions/<id>`. */
export function href(...parts: (string | Record<string, string | undefined>)[]): string {
  const segs: string[] = []
  let qs = ''
  for (const p of parts) {
    if (typeof p === 'string') segs.push(encodeURIComponent(p))
    else {
      const q = new URLSearchParams()
      for (const [k, v] of Object.entries(p)) if (v !== undefined && v !== '') q.set(k, v)
      if (q.toString()) qs = `?${q}`
    }
  }
  return `#/${segs.join('/')}${qs}`
}

export function navigate(to: string): void {
  location.hash = to
}
