/**
 * Sandbox uids for a root engine: every attempt runs as its own unprivileged uid from `sandbox.uidRange`, leased
 * through a lock file per uid so that no two live attempts on this host share one — across workers (threads),
 * engines (processes) and pid namespaces alike. A lease is an flock(2) on `<UID_DIR>/<uid>`: the kernel drops
 * it when the holder closes the file or dies, so a crashed engine's uids come back by themselves.
 */

import { closeSync, constants, lstatSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { errno, flock, LOCK } from './launcher/libc.ts'

/** Host-wide, root-only directory of the uid lock files (on tmpfs, so it starts empty after a reboot). */
export const UID_DIR = '/run/autokestra/uids'

/** The configured range: uids `start … start+count-1`; every attempt's primary group is gid `start`. */
export interface UidRange { start: number; count: number }

/** Default range: far above login uids (1000–60000), systemd's dynamic users (61184–65519) and nobody (65534). */
export const DEFAULT_UID_RANGE: UidRange = { start: 900_000, count: 1000 }

/**
 * A uid held for one attempt (or spare). `fd` is the locked descriptor: a launcher that inherits it holds the lease
 * for as long as it lives (the lock belongs to the open file, shared by every duplicate), so the engine may close its
 * own copy with `release` once the launcher has it. Never hand it to plugin code: flock(LOCK_UN) on any duplicate
 * would free the uid for another attempt while this one runs.
 */
export interface UidLease { uid: number; gid: number; fd: number; release(): void }

const EWOULDBLOCK = 11

/** Ranges already in use on this host: subordinate ids (rootless containers) and existing accounts. */
function conflicts(range: UidRange): string[] {
  const end = range.start + range.count
  const out: string[] = []
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    let text = ''
    try { text = readFileSync(file, 'utf8') } catch { continue }
    for (const line of text.split('\n')) {
      const [who, s, c] = line.split(':')
      const from = Number(s), n = Number(c)
      if (who && Number.isInteger(from) && Number.isInteger(n) && from < end && from + n > range.start) out.push(`${file}: ${line.trim()}`)
    }
  }
  for (const file of ['/etc/passwd', '/etc/group']) {
    let text = ''
    try { text = readFileSync(file, 'utf8') } catch { continue }
    for (const line of text.split('\n')) {
      const id = Number(line.split(':')[2])
      if (line && Number.isInteger(id) && id >= range.start && id < end) out.push(`${file}: ${line.split(':')[0]} (${id})`)
    }
  }
  return out
}

const checked = new Map<string, string[]>()

/** The lock directory, created root-only; refuses one that someone else owns or can write. */
function lockDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  for (let p = dir; p !== '/'; p = p.slice(0, p.lastIndexOf('/')) || '/') {
    const st = lstatSync(p)
    if (st.isSymbolicLink() || st.uid !== 0 || (p === dir && (st.mode & 0o077) !== 0) || (st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
      throw new AppError(ErrorCode.SandboxUnavailable,
        `sandbox uid leases: ${p} must be a root-owned directory that only root can write (mode ${(st.mode & 0o7777).toString(8)}, owner ${st.uid})`)
    }
  }
}

/**
 * Leases a free uid of the range (the scan starts at a random offset, so engines rarely contend).
 * Throws SANDBOX_UNAVAILABLE when the range overlaps ids in use on the host or when every uid is taken.
 */
export function leaseUid(range: UidRange = DEFAULT_UID_RANGE, dir = UID_DIR): UidLease {
  const key = `${range.start}:${range.count}`
  let found = checked.get(key)
  if (!found) checked.set(key, (found = conflicts(range)))
  if (found.length > 0) {
    throw new AppError(ErrorCode.SandboxUnavailable,
      `sandbox.uidRange ${range.start}-${range.start + range.count - 1} overlaps ids already in use on this host ` +
      `(${found.slice(0, 3).join('; ')}); choose another range`, { conflicts: found })
  }
  lockDir(dir)
  const offset = Math.floor(Math.random() * range.count)
  for (let i = 0; i < range.count; i++) {
    const uid = range.start + ((offset + i) % range.count)
    const fd = openSync(`${dir}/${uid}`, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600)
    if (flock(fd, LOCK.EX | LOCK.NB) !== 0) {
      const e = errno()
      closeSync(fd)
      if (e === EWOULDBLOCK) continue
      throw new AppError(ErrorCode.SandboxUnavailable, `sandbox uid leases: flock(${dir}/${uid}) failed: errno ${e}`)
    }
    // Nothing is written into the file: the lock is the whole truth (and a write costs ~0.7 ms per attempt here).
    let held = true
    return {
      uid, gid: range.start, fd,
      release() {
        if (!held) return
        held = false
        closeSync(fd) // drops the lock; the file stays (unlinking a lock file races with its next taker)
      },
    }
  }
  throw new AppError(ErrorCode.SandboxUnavailable,
    `no free sandbox uid: all ${range.count} uids of sandbox.uidRange (from ${range.start}) are held by running attempts; ` +
    'raise sandbox.uidRange.count (it must cover execution.maxConcurrentTasks plus two spare processes per worker, for every engine on this host)')
}
