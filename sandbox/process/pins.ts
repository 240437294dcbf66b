/**
 * Grant pins: the (device, inode) of each filesystem grant path at the moment the engine took the grant, so that the
 * launcher applies Landlock to exactly what was checked. The launcher opens a pinned path following no symlink
 * (openat2 RESOLVE_NO_SYMLINKS) and refuses to start when it finds another inode there; a spare process is only
 * taken by an attempt whose own pins are the same.
 */

import { lstatSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Permissions } from '../manifest.ts'

/** What stood at a grant path: its device and inode (decimal strings: both are 64-bit), or null when nothing did. */
export type PathPin = { dev: string; ino: string } | null

/** The filesystem grant paths of a grant, as the launcher's Landlock rules name them. */
export const grantPaths = (p: Permissions): string[] =>
  [...new Set([...(p.filesystem?.read ?? []), ...(p.filesystem?.write ?? [])].map((x) => resolve(x)))]

/**
 * Pins each path as it is now. The last component is not followed (a symlink pins the link itself, which the launcher
 * will then refuse); a symlink further up is, and the launcher, which follows none, refuses that too.
 */
export function pinPaths(paths: readonly string[]): Record<string, PathPin> {
  const out: Record<string, PathPin> = {}
  for (const path of paths) {
    // A path the kernel cannot walk (ENOTDIR, ELOOP, ENAMETOOLONG, …) has nothing standing there to pin.
    let st
    try { st = lstatSync(path, { bigint: true, throwIfNoEntry: false }) } catch { st = undefined }
    out[path] = st ? { dev: String(st.dev), ino: String(st.ino) } : null
  }
  return out
}
