/**
 * A git remote as `core/git-source.checkout` accepts it (docs/plugins.md#coregit-sourcecheckout): `https://`,
 * `http://`, `ssh://` or the scp-like `user@host:path`, with no credentials in it, and the one host and port it
 * reaches (what the task's network grant is derived from and checked against). Pure: no I/O.
 */

/** A remote accepted: its scheme, the host and port git will connect to, and the URL as it may be shown and stored. */
export interface GitRemote {
  scheme: 'https' | 'http' | 'ssh'
  host: string
  port: number
  /** `host:port`, the network grant entry this remote needs. */
  target: string
  url: string
}

export type RemoteResult = { ok: true; remote: GitRemote } | { ok: false; problem: string }

const DEFAULT_PORT = { https: 443, http: 80, ssh: 22 } as const
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0020\u007f]/
/** scp-like `user@host:path` (git's own rule: a colon before any slash, and no `://`). */
const SCP = /^(?:([A-Za-z0-9._-]+)@)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?!\/\/)(.+)$/
const HOST = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$|^\[[0-9a-f:.]+\]$/

const bad = (problem: string): RemoteResult => ({ ok: false, problem })

/** Parses a repository URL; a refusal says why in words fit for a validation message. */
export function parseRemote(raw: string): RemoteResult {
  if (raw.length === 0 || raw.length > 2048) return bad('a repository URL is 1 to 2048 characters')
  if (CONTROL.test(raw)) return bad('a repository URL holds no spaces or control characters')
  if (raw.startsWith('-')) return bad('a repository URL may not start with "-" (git would read it as an option)')
  // `ext::sh -c …`, `fd::3`, `transport::address`: git's remote-helper syntax, which runs programs; never accepted.
  if (/^[A-Za-z][A-Za-z0-9+.-]*::/.test(raw)) return bad(`"${raw.slice(0, raw.indexOf('::'))}::" is git's remote-helper syntax, which runs a program; only https://, http://, ssh:// and user@host:path are accepted`)
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(raw)?.[1]?.toLowerCase()
  if (scheme === undefined) {
    const m = SCP.exec(raw)
    if (!m) return bad('expected https://host/path, http://host/path, ssh://host/path or user@host:path')
    return remote('ssh', m[2]!.toLowerCase(), DEFAULT_PORT.ssh, raw)
  }
  if (scheme !== 'https' && scheme !== 'http' && scheme !== 'ssh') {
    return bad(`the ${scheme}:// scheme is not accepted (file:// would read the server's disk, git:// is unauthenticated); use https://, http:// or ssh://`)
  }
  // `\\` ends an http(s) URL's authority for the WHATWG parser, not for git or curl, which read up to the last `@`
  // before the first `/` as user info: `https://granted\\@other/x` would be judged as one host and reach another
  // (review 9). So the authority as git reads it must be exactly the host (and port) the parser found.
  if (raw.includes('\\')) return bad('a repository URL holds no backslash')
  let u: URL
  try { u = new URL(raw) } catch { return bad('not a valid URL') }
  if (u.password !== '') return bad('the URL holds a password: give credentials in inputs.auth (from a secret), never in the URL')
  if (u.username !== '' && scheme !== 'ssh') return bad('the URL holds a user name: give it in inputs.auth.username, never in the URL')
  const authority = raw.slice(raw.indexOf('://') + 3).split(/[/?#]/, 1)[0]!.toLowerCase()
  const userInfo = u.username === '' ? '' : `${u.username.toLowerCase()}@`
  if (authority !== `${userInfo}${u.host}` && authority !== `${userInfo}${u.hostname}:${DEFAULT_PORT[scheme]}`)
    return bad(`the URL's host part "${authority}" is not one plain host[:port] (git would read it otherwise than the engine)`)
  if (u.search !== '' || u.hash !== '') return bad('a repository URL has no query or fragment')
  if (u.pathname === '' || u.pathname === '/') return bad('the URL names no repository path')
  const port = u.port === '' ? DEFAULT_PORT[scheme] : Number(u.port)
  return remote(scheme, u.hostname.toLowerCase(), port, raw)
}

function remote(scheme: GitRemote['scheme'], host: string, port: number, url: string): RemoteResult {
  if (!HOST.test(host)) return bad(`"${host}" is not a host name or IP address`)
  return { ok: true, remote: { scheme, host, port, target: `${host}:${port}`, url } }
}
