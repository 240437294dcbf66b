/**
 * Verifies a running container's bind mounts from the host by the mounts themselves, not by names: each expected one
 * is the one mount at its exact mount point in /proc/<pid>/mountinfo, on the pinned device, and the object a walk of
 * that mount point reaches from the container's root (openat2, following no symlink) lies in that very mount and is
 * the pinned inode; and no bind mount outside the spec is there. Any failure to look counts as a mismatch.
 */

import { closeSync, constants, openSync, readFileSync } from 'node:fs'
import { close, cstr, errno, inodeOf, O_CLOEXEC, O_PATH, syscall, addr } from '../process/launcher/libc.ts'
import { openRootOf, readProc, type ContainerProc } from './can-look.ts'
import { pinDrift, type PinnedPath } from '../plugins/path-pin.ts'
import type { Staged } from './mount-stage.ts'

/** A bind mount with the pin its source had when the engine took it, and its staging point when it was staged. */
export interface PinnedMount { source: string; target: string; pin: PinnedPath; staged?: Staged }

/** How the mounts of a running container compare with their pins: `failed` when the engine could not look. */
export type MountCheck =
  | { ok: true }
  | { ok: false; changed: PinnedMount; found: string }
  | { ok: false; extra: string; found: string }
  | { ok: false; failed: string }

/** One line of mountinfo (proc(5)). */
export interface MountInfo { id: number; parent: number; majmin: string; root: string; point: string; fstype: string }

/** Mount points Docker itself sets up in every container (procfs, devices, sysfs, the resolver files, our /tmp). */
const ENGINE_POINTS = ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/tmp']
const ENGINE_TREES = ['/proc', '/dev', '/sys']

const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))

/** Parses mountinfo text; lines it cannot read are dropped (the check then misses a mount and fails). */
export function parseMountInfo(text: string): MountInfo[] {
  return text.split('\n').flatMap((line): MountInfo[] => {
    const f = line.split(' ')
    const dash = f.indexOf('-')
    if (f.length < 10 || dash < 6) return []
    return [{ id: Number(f[0]), parent: Number(f[1]), majmin: f[2] ?? '', root: unescape(f[3] ?? ''), point: unescape(f[4] ?? ''), fstype: f[dash + 1] ?? '' }]
  })
}

/** `major:minor` of a st_dev (glibc's encoding, as the kernel prints it in mountinfo). */
export function majorMinor(dev: string): string {
  const d = BigInt(dev)
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn)
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn)
  return `${major}:${minor}`
}

const SYS_OPENAT2 = 437 // the same number on every architecture
const O_NOFOLLOW = 0o400000
const RESOLVE_NO_MAGICLINKS = 0x02n
const RESOLVE_NO_SYMLINKS = 0x04n
const RESOLVE_IN_ROOT = 0x10n

/** openat2(dirfd, path, O_PATH|O_NOFOLLOW) resolved inside dirfd, through no symlink; -errno on failure. */
function openIn(dirfd: number, path: string): number {
  const how = new BigUint64Array([BigInt(O_PATH | O_CLOEXEC | O_NOFOLLOW), 0n, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS])
  const fd = Number(syscall(SYS_OPENAT2, BigInt(dirfd), addr(cstr(path)), addr(how), 24n))
  return fd < 0 ? -errno() : fd
}

/** The mount id an open descriptor lies in (fdinfo's mnt_id: ids are global, as mountinfo prints them). */
function mountIdOf(fd: number): number | undefined {
  const m = /^mnt_id:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))
  return m ? Number(m[1]) : undefined
}

/** Bound of a container's mountinfo (a few dozen lines; far more is no container of ours). */
const MOUNTINFO_MAX = 4 * 1024 * 1024

/**
 * The container's init: proven by can-look.ts (the runner's way), or a bare pid whose /proc dir is opened here (tests
 * that started the container themselves).
 */
export type InitOf = ContainerProc | number

/**
 * Compares the mounts of the container whose init is `init` with `mounts`, each of which must be there as pinned. Only
 * for an engine that can look at this container (root, its init proven in our /proc: can-look.ts): here every error is
 * a failure.
 */
export function checkMounts(init: InitOf, mounts: readonly PinnedMount[]): MountCheck {
  return check(init, mounts, false)
}

/**
 * checkMounts, and no mount besides those and Docker's own (procfs, devices, sysfs, resolver files, /tmp): `mounts`
 * is the container's whole spec. A bind target swapped for a symlink makes runc mount at wherever it points.
 */
export function checkContainerMounts(init: InitOf, mounts: readonly PinnedMount[]): MountCheck {
  return check(init, mounts, true)
}

function check(init: InitOf, mounts: readonly PinnedMount[], exclusive: boolean): MountCheck {
  if (typeof init !== 'number') return settled(init.fd, checkThrough(init.fd, init.pid, mounts, exclusive))
  const pid = init
  if (!(pid > 0)) return { ok: false, failed: 'the container was no longer running when its mounts were checked' }
  let dirfd: number
  try {
    dirfd = openSync(`/proc/${pid}`, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
  } catch (e) {
    return { ok: false, failed: `cannot open /proc/${pid}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` }
  }
  try {
    return settled(dirfd, checkThrough(dirfd, pid, mounts, exclusive))
  } finally {
    closeSync(dirfd)
  }
}

/**
 * A mismatch read from a process that exited meanwhile is no evidence: an exiting init's mount namespace is torn down
 * as it goes, so its table can miss mounts, and an init that exits within the check's window read as swapped mounts
 * (PATH_CHANGED; seen under load with an image whose program exits at once). Only a live process's table is evidence;
 * an exited one's is "could not be verified" (MOUNT_UNVERIFIED). Both refuse the attempt and take nothing of it.
 */
function settled(dirfd: number, c: MountCheck): MountCheck {
  if (c.ok || 'failed' in c || !exitedProcess(dirfd)) return c
  return { ok: false, failed: 'the container exited while its mounts were checked' }
}

/** Whether the process of this /proc dir is gone or a zombie (`stat`'s state after the last `)`: Z or X). */
export function exitedProcess(dirfd: number): boolean {
  try {
    const stat = readProc(dirfd, 'stat')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state === 'Z' || state === 'X' || state === ''
  } catch {
    return true
  }
}

/** The check, through a descriptor of the init's /proc dir: mountinfo and root are that process's, whatever its pid became. */
function checkThrough(dirfd: number, pid: number, mounts: readonly PinnedMount[], exclusive: boolean): MountCheck {
  let table: MountInfo[]
  try {
    table = parseMountInfo(readProc(dirfd, 'mountinfo', MOUNTINFO_MAX))
  } catch (e) {
    return { ok: false, failed: `cannot read /proc/${pid}/mountinfo: ${e instanceof Error ? e.message : String(e)}` }
  }
  const root = openRootOf(dirfd)
  if (root < 0) return { ok: false, failed: `cannot open /proc/${pid}/root: errno ${-root}` }
  try {
    const expected = new Set<number>()
    for (const m of mounts) {
      const at = table.filter((e) => e.point === m.target)
      const entry = at[0]
      if (at.length !== 1 || !entry) return { ok: false, changed: m, found: `${at.length} mounts at that point` }
      expected.add(entry.id)
      if (entry.majmin !== majorMinor(m.pin.dev)) return { ok: false, changed: m, found: `a mount of device ${entry.majmin}` }
      const fd = openIn(root, m.target.replace(/^\/+/, '') || '.')
      if (fd < 0) return { ok: false, changed: m, found: `no path to the mount (errno ${-fd})` }
      try {
        // The walk followed no symlink and no `..`: landing in this mount means landing on its root.
        if (mountIdOf(fd) !== entry.id) return { ok: false, changed: m, found: 'a path that leads into another mount' }
        const st = inodeOf(fd)
        if (!st || st.dev !== m.pin.dev || st.ino !== m.pin.ino) return { ok: false, changed: m, found: `inode ${st ? `${st.dev}:${st.ino}` : '?'}` }
      } finally {
        close(fd)
      }
      // The mount is right; a source name swapped meanwhile is still an attack under way (and, unstaged, was what Docker
      // resolved): refused.
      const drift = pinDrift(m.pin)
      if (drift) return { ok: false, changed: m, found: `its source, which ${drift} now` }
    }
    for (const e of exclusive ? table : []) {
      if (expected.has(e.id) || e.point === '/' || ENGINE_POINTS.includes(e.point)) continue
      if (ENGINE_TREES.some((t) => e.point === t || e.point.startsWith(`${t}/`))) continue
      return { ok: false, extra: e.point, found: `a ${e.fstype} mount of ${e.root}` }
    }
    return { ok: true }
  } catch (e) {
    return { ok: false, failed: `checking the mounts: ${(e as NodeJS.ErrnoException).code ?? String(e)}` }
  } finally {
    close(root)
  }
}
