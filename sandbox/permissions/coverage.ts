/** Whether one network pattern falls within others: for a task narrowing its plugin, and for the operator's cap. */

import { parseNetworkPattern } from '../sdk/network.ts'

/** A parsed pattern; a cap may also say `host:*` (any port). */
interface Rule { host: string; ports: number[] | 'any' }

const normalizeHost = (h: string): string => h.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '')

/** Parses a cap pattern: what a grant pattern may be, plus a `:*` port. Throws on a malformed one. */
function parseCap(pattern: string): Rule {
  const any = /^(.*):\*$/.exec(pattern.trim())
  const r = parseNetworkPattern(any ? any[1]! : pattern)
  return { host: normalizeHost(r.host), ports: any ? 'any' : r.ports }
}

/** `*` covers every host; `*.example.com` covers its subdomains (and narrower wildcards); a host covers itself. */
function hostCovers(cap: string, host: string): boolean {
  if (cap === '*') return true
  if (host === '*') return false
  if (cap.startsWith('*.')) {
    const suffix = cap.slice(1)
    return host.startsWith('*.') ? host.slice(1).endsWith(suffix) : host.endsWith(suffix) && host.length > suffix.length
  }
  return cap === host
}

/**
 * Whether the grant `pattern` (host, host:port, *.suffix, `*`; a bare host means ports 80 and 443) allows
 * nothing that `caps` do not: its host within one cap's hosts and its ports within that cap's. Throws on a
 * malformed `pattern`; a malformed cap covers nothing (the config check reports it).
 */
export function networkCovers(caps: readonly string[], pattern: string): boolean {
  const p = parseNetworkPattern(pattern)
  const host = normalizeHost(p.host)
  return caps.some((c) => {
    let cap: Rule
    try { cap = parseCap(c) } catch { return false }
    return hostCovers(cap.host, host) && (cap.ports === 'any' || p.ports.every((port) => (cap.ports as number[]).includes(port)))
  })
}

/** Problems of the cap patterns themselves (`sandbox.policy.network`), for the config check. */
export function capProblems(caps: readonly string[]): string[] {
  return caps.flatMap((c) => { try { parseCap(c); return [] } catch (e) { return [`${c}: ${(e as Error).message}`] } })
}
