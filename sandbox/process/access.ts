/**
 * Whether a sandbox uid can reach a path, judging by owner, group and mode bits along the way (the kernel's
 * DAC rules for a process that holds no capability). POSIX ACLs are not consulted: on a file with an ACL the
 * group bits are the ACL mask, so the answer errs on the side of "unreachable".
 */

import { realpathSync, statSync } from 'node:fs'
import { dirname } from 'node:path'

/** What the plugin needs on a path: read (directories: list + search), write (+ read), or execute. */
export type Need = 'read' | 'write' | 'exec'

/** Why a path is out of reach, for the error message; undefined when reachable (or missing: Landlock skips those). */
export function unreachable(path: string, need: Need, uid: number, gid: number): string | undefined {
  const bits = (st: { uid: number; gid: number; mode: number }): number =>
    st.uid === uid ? (st.mode >> 6) & 7 : st.gid === gid ? (st.mode >> 3) & 7 : st.mode & 7
  const describe = (p: string, st: { uid: number; gid: number; mode: number }): string =>
    `${p} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}, owner ${st.uid}:${st.gid})`
  let p: string
  let st
  try { p = realpathSync(path); st = statSync(p) } catch { return undefined }
  const want = need === 'exec' ? 1 : need === 'write' ? (st.isDirectory() ? 7 : 6) : (st.isDirectory() ? 5 : 4)
  if ((bits(st) & want) !== want) return `${describe(p, st)} is not ${need === 'exec' ? 'executable' : need === 'write' ? 'writable' : 'readable'}`
  while (p !== '/') {
    p = dirname(p)
    const up = statSync(p)
    if ((bits(up) & 1) === 0) return `its parent ${describe(p, up)} is not searchable`
  }
  return undefined
}
