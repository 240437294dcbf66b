/** Path arithmetic for grants: canonical forms (symlinks resolved as far as the path exists) and containment. */

import { existsSync, realpathSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, normalize, sep } from 'node:path'

/**
 * The canonical form of an absolute path: `.`, `..` and duplicate slashes removed, and the symlinks of its
 * longest existing prefix resolved (the rest appended), so `/tmp/link-to-root/x` is judged as `/x`.
 */
export function canonicalPath(p: string): string {
  let head = clean(p)
  const rest: string[] = []
  // existsSync, not realpath's exceptions, to find the existing part: this runs at every task start.
  while (!existsSync(head)) {
    const parent = dirname(head)
    if (parent === head) return clean(p)
    rest.push(basename(head))
    head = parent
  }
  let real: string
  try { real = realpathSync.native(head) } catch { return clean(p) }
  return rest.length ? join(real, ...rest.reverse()) : real
}

/** Whether `path` is `dir` or inside it (both absolute, normalised). */
export function isWithin(path: string, dir: string): boolean {
  if (path === dir || dir === sep) return true
  return path.startsWith(dir.endsWith(sep) ? dir : dir + sep)
}

/** `normalize` without a trailing slash (`/a/b/` → `/a/b`; `/` stays). */
export const clean = (p: string): string => normalize(p).replace(/(.)\/+$/, '$1')

/** Both spellings of a grant worth comparing: as written (normalised) and canonical. */
export function spellings(p: string): string[] {
  const written = clean(p)
  const real = canonicalPath(p)
  return real === written ? [written] : [written, real]
}

export { isAbsolute }
