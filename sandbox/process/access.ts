/** Whether an unprivileged user (uid 65534) could read a path, judging by mode bits along the way. */

import { statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

/** True when every ancestor is world-searchable and the path itself world-readable (dirs: also searchable). */
export function readableByOthers(path: string): boolean {
  try {
    let p = resolve(path)
    const st = statSync(p)
    if ((st.mode & 0o004) === 0 || (st.isDirectory() && (st.mode & 0o001) === 0)) return false
    while (p !== '/') {
      p = dirname(p)
      if ((statSync(p).mode & 0o001) === 0) return false
    }
    return true
  } catch {
    return false
  }
}
