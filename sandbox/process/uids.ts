/**
 * Sandbox uids for a root engine: every attempt runs as its own unprivileged uid from `sandbox.uidRange`, leased
 * through a lock file per uid so that no two live attempts on this host share one — across workers (threads),
 * engines (processes) and pid namespaces alike. A lease is an flock(2) on `<UID_DIR>/<uid>`: the kernel drops
 * it when the holder closes the file or dies, so a crashed engine's uids come back by themselves. A free lock is not
 * taken as proof that nothing of the uid runs: the file names its last holder (the attempt id, also its cgroup's
 * name), and a uid whose last holder still has processes is skipped (LeaseCheck).
 */

import { closeSync, constants, ftruncateSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, writeSync } from 'node:fs'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { errno, flock, LOCK } from './launcher/libc.ts'
import { detectCgroups, existingTaskCgroup, taskCgroupMembers, type CgroupSupport } from './cgroup.ts'
import { rootOnlyDir } from './root-only-dir.ts'

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

/**
 * How a lease checks, rather than trusts, that a free uid is free: its lock says no launcher holds it; this says
 * whether anything of its last holder still runs (a plugin that outlived its launcher, or one still dying).
 */
export interface LeaseCheck {
  /** Recorded in the uid's lock file as its holder: the attempt id, which is also the name of its cgroups. */
  holder?: string
  /** True when something of the uid's last holder (`previous`, or unknown) still runs: the uid is then skipped. */
  stillRuns(uid: number, previous: string | undefined): boolean
}

/** Whether process `pid` has `uid` as its real, effective, saved or filesystem uid. */
function runsAs(pid: number | string, uid: string, buf: Buffer): boolean {
  let fd: number
  try { fd = openSync(`/proc/${pid}/status`, 'r') } catch { return false }
  try {
    const text = buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0))
    return /^Uid:\s+(.*)$/m.exec(text)?.[1]?.split(/\s+/).includes(uid) ?? false
  } catch { return false } finally { closeSync(fd) }
}

/** Pids of the live processes that run as `uid` (a scan of the whole process table: ~1–4 ms here). */
export function processesOf(uid: number): number[] {
  const buf = Buffer.alloc(1024)
  return readdirSync('/proc').filter((n) => n.charCodeAt(0) >= 48 && n.charCodeAt(0) <= 57 && runsAs(n, String(uid), buf)).map(Number)
}

/**
 * The check for a host whose task cgroups are `support`. Every process of an attempt stays in the attempt's cgroup
 * (it cannot leave it), so: with the last holder on record, whether the kernel counts any process in that cgroup
 * (`pids.current`, v2 `cgroup.events`: in whatever pid namespace it runs; what is found there is an orphan of a dead
 * launcher, and what of it this process can see is killed); with none (first use of the uid since boot), the members
 * of every task cgroup this process can see; without cgroups, the whole process table.
 */
export function cgroupLeaseCheck(support: CgroupSupport, holder?: string): LeaseCheck {
  return {
    ...(holder ? { holder } : {}),
    stillRuns(uid, previous) {
      if (support.version === 0) return processesOf(uid).length > 0
      if (previous === undefined) {
        const buf = Buffer.alloc(1024)
        return taskCgroupMembers(support).some((pid) => runsAs(pid, String(uid), buf))
      }
      const last = existingTaskCgroup(previous, support)
      // Counted by the kernel, not listed: a process of another pid namespace is in no cgroup.procs we read.
      if (!last.populated()) return false
      last.killAll()
      return true
    },
  }
}

let hostCgroups: CgroupSupport | undefined
/** The default check: cgroupLeaseCheck on this host's cgroups (detected once). */
const HOST_CHECK: LeaseCheck = { stillRuns: (uid, previous) => cgroupLeaseCheck(hostCgroups ??= detectCgroups()).stillRuns(uid, previous) }

/**
 * Holder records are written at this fixed width, padded with spaces (readHolder trims): overwriting the last one in
 * place needs no ftruncate, which on tmpfs frees the file's page and held the engine's thread ~0.2 ms per lease.
 */
const HOLDER_WIDTH = 128
const readHolder = (fd: number): string | undefined => {
  const buf = Buffer.alloc(HOLDER_WIDTH)
  const text = buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0)).trim()
  return /^[\w.-]+$/.test(text) ? text : undefined
}
const writeHolder = (fd: number, holder: string | undefined): void => {
  if (holder && Buffer.byteLength(holder) < HOLDER_WIDTH) {
    writeSync(fd, holder.padEnd(HOLDER_WIDTH - (Buffer.byteLength(holder) - holder.length), ' '), 0)
    return
  }
  ftruncateSync(fd, 0)
  if (holder) writeSync(fd, holder, 0)
}

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

/**
 * Leases a free uid of the range (the scan starts at a random offset, so engines rarely contend): its lock is free and
 * `check` finds nothing of its last holder running. Throws SANDBOX_UNAVAILABLE when the range overlaps ids in use on
 * the host or when every uid is taken.
 */
export function leaseUid(range: UidRange = DEFAULT_UID_RANGE, dir = UID_DIR, check: LeaseCheck = HOST_CHECK): UidLease {
  const key = `${range.start}:${range.count}`
  let found = checked.get(key)
  if (!found) checked.set(key, (found = conflicts(range)))
  if (found.length > 0) {
    throw new AppError(ErrorCode.SandboxUnavailable,
      `sandbox.uidRange ${range.start}-${range.start + range.count - 1} overlaps ids already in use on this host ` +
      `(${found.slice(0, 3).join('; ')}); choose another range`, { conflicts: found })
  }
  rootOnlyDir(dir, 'sandbox uid leases')
  const offset = Math.floor(Math.random() * range.count)
  let running = 0
  for (let i = 0; i < range.count; i++) {
    const uid = range.start + ((offset + i) % range.count)
    const fd = openSync(`${dir}/${uid}`, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600)
    if (flock(fd, LOCK.EX | LOCK.NB) !== 0) {
      const e = errno()
      closeSync(fd)
      if (e === EWOULDBLOCK) continue
      throw new AppError(ErrorCode.SandboxUnavailable, `sandbox uid leases: flock(${dir}/${uid}) failed: errno ${e}`)
    }
    // Check, don't trust: a holder whose launcher died may have left something running as this uid.
    let previous: string | undefined
    try { previous = readHolder(fd) } catch { previous = undefined }
    if (check.stillRuns(uid, previous)) {
      closeSync(fd)
      running++
      continue
    }
    // A lease without a holder keeps the record: the last attempt's cgroup is still where its processes would be.
    if (check.holder) writeHolder(fd, check.holder)
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
    `no free sandbox uid: all ${range.count} uids of sandbox.uidRange (from ${range.start}) are held by running attempts` +
    `${running > 0 ? ` (${running} of them by processes still running after their attempt ended)` : ''}; ` +
    'raise sandbox.uidRange.count (it must cover execution.maxConcurrentTasks plus two spare processes per worker, for every engine on this host)')
}
