/** Network permission patterns (`host`, `host:port`, `*.example.com[:port]`): parsing and matching. */

/** One parsed `network` entry. A host without a port means ports 80 and 443. */
export interface NetworkRule {
  /** Lower-case host, IP, or `*.suffix` wildcard. */
  host: string
  ports: number[]
}

const DEFAULT_PORTS = [80, 443]

/** Parses a `network` pattern; throws on a malformed one. */
export function parseNetworkPattern(pattern: string): NetworkRule {
  const p = pattern.trim().toLowerCase().replace(/^[a-z]+:\/\//, '')
  const v6 = /^\[([0-9a-f:.]+)\](?::(\d+))?$/.exec(p)
  const m = v6 ?? /^([^:/\s]+)(?::(\d+))?$/.exec(p)
  if (!m || !m[1]) throw new Error(`invalid network pattern '${pattern}' (expected host or host:port)`)
  const port = m[2] === undefined ? undefined : Number(m[2])
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new Error(`invalid port in network pattern '${pattern}'`)
  }
  return { host: m[1], ports: port === undefined ? DEFAULT_PORTS : [port] }
}

/** Every TCP port any of the patterns allows (what the kernel enforces). */
export function allowedPorts(patterns: readonly string[]): number[] {
  return [...new Set(patterns.flatMap((p) => parseNetworkPattern(p).ports))].sort((a, b) => a - b)
}

const normalizeHost = (h: string): string => h.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '')

function hostMatches(rule: string, host: string): boolean {
  if (rule === '*') return true
  if (rule.startsWith('*.')) return host.endsWith(rule.slice(1)) && host.length > rule.length - 1
  return rule === host
}

/** True when connecting to host:port is granted by one of the patterns. */
export function isNetworkAllowed(patterns: readonly string[], host: string, port: number): boolean {
  const h = normalizeHost(host)
  return patterns.some((p) => {
    const r = parseNetworkPattern(p)
    return r.ports.includes(port) && hostMatches(normalizeHost(r.host), h)
  })
}
