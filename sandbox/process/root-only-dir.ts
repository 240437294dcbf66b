/** Host-wide directories of a root engine's lock files (uid leases, engine instances): root's alone, all the way up. */
import { lstatSync, mkdirSync } from 'node:fs'
import { AppError, ErrorCode } from '../../runtime/errors.ts'

/** Makes `dir` (0700) when missing; refuses (SANDBOX_UNAVAILABLE, naming `what`) one that someone else owns or can write. */
export function rootOnlyDir(dir: string, what: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  for (let p = dir; p !== '/'; p = p.slice(0, p.lastIndexOf('/')) || '/') {
    const st = lstatSync(p)
    if (st.isSymbolicLink() || st.uid !== 0 || (p === dir && (st.mode & 0o077) !== 0) || (st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
      throw new AppError(ErrorCode.SandboxUnavailable,
        `${what}: ${p} must be a root-owned directory that only root can write (mode ${(st.mode & 0o7777).toString(8)}, owner ${st.uid})`)
    }
  }
}
