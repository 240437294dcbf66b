/** Recognises kernel or guard refusals in a plugin's stderr and names the permission and target. */

import { isPermissionKind, type PermissionDenial } from './kinds.ts'

/** The line the in-process guard prints on every refusal: `::error::PERMISSION_DENIED <permission> <target>`. */
export const DENIAL_MARKER = 'PERMISSION_DENIED'


/** Formats the guard's stderr marker line for a denial. */
export const denialLine = (d: PermissionDenial): string => `::error::${DENIAL_MARKER} ${d.permission} ${d.target}`

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

/** Classifies one line; undefined when it does not look like a refusal. */
export function detectDenialLine(line: string): PermissionDenial | undefined {
  const marker = new RegExp(`${DENIAL_MARKER}\\s+(\\S+)\\s+(.+)$`).exec(line)
  if (marker && isPermissionKind(marker[1])) return { permission: marker[1], target: marker[2]!.trim() }
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
  const path = pathIn(line)
  if (path) return classifyTarget(path, line)
  if (/connect|socket/i.test(line)) return { permission: 'network', target: 'unknown' }
  return { permission: 'filesystem.read', target: 'unknown' }
}

/** The refusal found in the tail of a plugin's stderr: guard markers first, then the line naming a target. */
export function detectDenial(stderrTail: readonly string[]): PermissionDenial | undefined {
  for (const line of stderrTail) {
    if (line.includes(DENIAL_MARKER)) { const d = detectDenialLine(line); if (d) return d }
  }
  const found = stderrTail.flatMap((l) => { const d = detectDenialLine(l); return d ? [d] : [] })
  return found.find((d) => d.target !== 'unknown') ?? found[0]
}
