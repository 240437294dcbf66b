/**
 * The guard's sealed denial marker (what the engine accepts as a refusal seen inside the plugin), and the inference
 * of a kernel refusal from a program's own message (what a shell or a native plugin prints; data, never a marker).
 */

import { isPermissionKind, type PermissionDenial } from './kinds.ts'

/**
 * The line the in-process guard prints on every refusal: `::error::PERMISSION_DENIED#<seal> <permission> <target>`.
 * The seal is the attempt's random secret (docs/security.md#denials): the engine hands it to the plugin in the
 * invocation on stdin and takes a marker only with it, so a line that merely relays data (a webhook payload, an HTTP
 * body a command prints) can never pass for one. Logged without the seal (`withoutSeal`).
 */
export const DENIAL_MARKER = 'PERMISSION_DENIED'

/** What a seal looks like: 128 random bits in hex. Anything else (empty, absent) seals nothing and matches nothing. */
const SEAL = /^[0-9a-f]{32}$/
export const isSeal = (s: unknown): s is string => typeof s === 'string' && SEAL.test(s)

/** Formats the guard's marker line for a denial: sealed when the invocation gave a seal, else a plain log line. */
export const denialLine = (d: PermissionDenial, seal?: string): string =>
  `::error::${DENIAL_MARKER}${isSeal(seal) ? `#${seal}` : ''} ${d.permission} ${d.target}`

/** The denial a line carrying this attempt's sealed marker names; undefined for any other line (a forged or plain one). */
export function sealedDenial(line: string, seal: string | undefined): PermissionDenial | undefined {
  if (!isSeal(seal)) return undefined
  const at = line.indexOf(`${DENIAL_MARKER}#${seal} `)
  if (at < 0) return undefined
  const m = /^(\S+) (.+)$/.exec(line.slice(at + DENIAL_MARKER.length + seal.length + 2))
  return m && isPermissionKind(m[1]) ? { permission: m[1], target: m[2]!.trim() } : undefined
}

/** A stderr line as it is logged and quoted: the seal taken out (a reader of the logs never learns it). */
export const withoutSeal = (line: string, seal: string | undefined): string =>
  isSeal(seal) && line.includes(seal) ? line.replaceAll(`#${seal}`, '').replaceAll(seal, '') : line

const WRITE_OPS = /\b(mkdir|mkdtemp|rmdir|unlink|rm|rename|write|writeFile|appendFile|copyfile|symlink|link|chmod|chown|utime|truncate|touch|create|O_WRONLY|O_RDWR|O_CREAT)\b/i
const EXEC_OPS = /\b(spawn|posix_spawn|execve|execvp|uv_spawn)\b/i
/** The words of a line, without its paths (a path like /x/exec-attacks must not read as an operation). */
const words = (line: string): string => line.replace(/['"`]?\/\S*/g, ' ')

/** Extracts a quoted or bare absolute path from a message. */
function pathIn(line: string): string | undefined {
  const q = /['"`‘](\/[^'"`’]*)['"`’]/.exec(line)
  if (q) return q[1]
  const b = /(?:^|[\s:(])(\/[\w.@%+=,\/-]+)/.exec(line)
  return b?.[1]
}

/** Extracts `host:port` (IPv4, [IPv6] or name) from a message. */
function hostPortIn(line: string): string | undefined {
  const m = /\b((?:\d{1,3}\.){3}\d{1,3}|\[[0-9a-f:.]+\]|[a-z0-9-]+(?:\.[a-z0-9-]+)+|localhost):(\d{1,5})\b/i.exec(line)
  return m ? `${m[1]}:${m[2]}` : undefined
}

/** The `X` of a shell/coreutils style `...: X: Permission denied` line. */
function shellTarget(line: string): string | undefined {
  const m = /(?:^|:\s)([^:]+):\s*(?:Permission denied|Operation not permitted)\s*$/.exec(line)
  return m?.[1]?.trim()
}

/** Names the permission a refused target needs: /dev/tcp → network, an executable → run, a missing path → write. */
function classifyTarget(target: string, full: string): PermissionDenial {
  const line = words(full)
  const tcp = /^\/dev\/(?:tcp|udp)\/([^/]+)\/(\d+)$/.exec(target)
  if (tcp) return { permission: 'network', target: `${tcp[1]}:${tcp[2]}` }
  if (!target.startsWith('/')) return { permission: 'run', target }
  if (EXEC_OPS.test(line)) return { permission: 'run', target }
  try {
    // require, not an ES import: this module also loads inside plugins, before the fs guard (see fs-guard.ts).
    const st = (require('node:fs') as typeof import('node:fs')).statSync(target)
    if (st.isFile() && (st.mode & 0o111) !== 0 && !WRITE_OPS.test(line)) return { permission: 'run', target }
    return { permission: WRITE_OPS.test(line) ? 'filesystem.write' : 'filesystem.read', target }
  } catch {
    // Reading a path that does not exist fails with ENOENT, not EACCES: a refused missing path was a write.
    return { permission: 'filesystem.write', target }
  }
}

/** PermissionDeniedError's message (denied.ts): `permission denied: <permission> <target> not granted`. */
const GUARD_MESSAGE = /permission denied: (?:network|filesystem\.read|filesystem\.write|run|env|memory|pids|cpu|docker)\b.* not granted/

/**
 * Classifies one line that may be a program's own message about a kernel refusal (EACCES, "Permission denied", an
 * unreachable network); undefined when it does not look like one. An inference from text: a marker-shaped line is
 * not read as a marker here (only `sealedDenial` reads markers).
 */
export function detectDenialLine(line: string): PermissionDenial | undefined {
  // The guard's own error (PermissionDeniedError's message, as Bun reports an uncaught one) is never evidence: the
  // guard reports each refusal by its sealed marker, at the moment it refuses, so this text says nothing the marker
  // did not — except when it was not this attempt's (a refusal an earlier warm invocation left behind, thrown
  // uncaught during this one; review 9), or when someone merely printed it.
  if (GUARD_MESSAGE.test(line)) return undefined
  const network = /ENETUNREACH|Network is unreachable|EHOSTUNREACH|No route to host/i.test(line)
  const denied = /EACCES|EPERM|Permission denied|Operation not permitted|Access denied/i.test(line)
  if (!network && !denied) return undefined
  const hp = hostPortIn(line)
  if (network || (hp && /connect|socket|fetch|tcp|net/i.test(line))) return { permission: 'network', target: hp ?? 'unknown' }
  const bare = shellTarget(line)
  if (bare && /^(connect|socket|bind)$/.test(bare)) return { permission: 'network', target: 'unknown' }
  if (bare && !/\s/.test(bare)) return classifyTarget(bare, line)
  // dash: `script: 2: cannot create /x/f: Permission denied` (the script's own path comes first on the line).
  const created = bare ? /^cannot (create|open) (\/\S+)$/.exec(bare) : null
  if (created) return { permission: created[1] === 'create' ? 'filesystem.write' : 'filesystem.read', target: created[2]! }
  // Bun's (and Node's) chdir names the working directory first, then the directory it could not enter.
  const chdir = /\bchdir '[^']*' -> '(\/[^']*)'/.exec(line)
  if (chdir) return { permission: 'filesystem.read', target: chdir[1]! }
  const path = pathIn(line)
  if (path) return classifyTarget(path, line)
  if (/connect|socket/i.test(line)) return { permission: 'network', target: 'unknown' }
  return { permission: 'filesystem.read', target: 'unknown' }
}

/** The refusal inferred from the tail of a program's stderr: the line naming a target first. */
export function detectDenial(stderrTail: readonly string[]): PermissionDenial | undefined {
  // A crash on the guard's own error: Bun's report of it quotes source lines around the throw (code frames), which
  // are no kernel messages either; the refusal was the guard's, reported by its sealed marker or not at all.
  if (stderrTail.some((l) => GUARD_MESSAGE.test(l))) return undefined
  const found = stderrTail.flatMap((l) => { const d = detectDenialLine(l); return d ? [d] : [] })
  return found.find((d) => d.target !== 'unknown') ?? found[0]
}
