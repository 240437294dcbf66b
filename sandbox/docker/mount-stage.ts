/**
 * Staging binds: each pinned bind source is opened through no symlink, checked to be the pinned inode, and bind-mounted
 * from that descriptor onto a private, engine-owned path; Docker is handed that path. What Docker resolves by name at
 * the container's start is then ours (a root-only dir), not the granted tree a writer of it could swap.
 */

import { randomBytes } from 'node:crypto'
import { lstatSync, mkdirSync, readdirSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { FileLock } from '../../runtime/file-lock.ts'
import { holdLivenessLock, probeLiveness } from '../../runtime/liveness-lock.ts'
import { close, inodeOf, MS, mount, openNoSymlinks, syscall, addr, cstr } from '../process/launcher/libc.ts'
import type { PinnedPath } from '../plugins/path-pin.ts'

import { STAGE_ROOT } from './stage-root.ts'

const SYS_UMOUNT2 = process.arch === 'arm64' ? 39 : 166
const MNT_DETACH = 2

/** A staging point: the path Docker mounts, and whether it is a directory. */
export interface Staged { point: string; dir: boolean }

const LOCK_FILE = '.alive'
const OWN_DIR = /^s[0-9a-f]{16}$/

const live = new Map<string, Staged>()
let sequence = 0
let hooked = false
/** This process's staging dir, held by a liveness lock so that a sweep can tell a dead engine's points (never by pid). */
let own: { dir: string; lock: FileLock } | undefined

function ownDir(): string {
  if (!own) {
    mkdirSync(STAGE_ROOT, { recursive: true, mode: 0o700 })
    const dir = join(STAGE_ROOT, `s${randomBytes(8).toString('hex')}`)
    mkdirSync(dir, { mode: 0o700 })
    const lock = holdLivenessLock(join(dir, LOCK_FILE), 'docker staging lock file')
    if (!lock) throw new AppError(ErrorCode.SandboxUnavailable, `cannot lock the docker staging dir ${dir}`)
    own = { dir, lock }
  }
  return own.dir
}

/**
 * Stages `pin` and returns the staging point, or undefined when this process cannot mount (not root, the mount
 * refused): the caller then hands Docker the name, which the running container's check still verifies. Whether the
 * daemon would see the point (its mount namespace) is the caller's decision (can-look.ts engineCanLook `stage`).
 * PATH_CHANGED when the pinned path no longer leads, through no symlink, to the pinned inode.
 */
export function stagePin(pin: PinnedPath, readOnly = false): Staged | undefined {
  if (process.getuid?.() !== 0) return undefined
  const fd = openNoSymlinks(pin.path)
  if (fd < 0) throw new AppError(ErrorCode.PathChanged, `bind source ${pin.path} is gone or goes through a symbolic link; refusing to start`, { path: pin.path })
  try {
    const at = inodeOf(fd)
    if (!at || at.dev !== pin.dev || at.ino !== pin.ino) {
      throw new AppError(ErrorCode.PathChanged, `bind source ${pin.path} is another file than the one checked; refusing to start`, { path: pin.path })
    }
    const dir = statSync(`/proc/self/fd/${fd}`).isDirectory()
    const point = join(ownDir(), String(++sequence))
    if (dir) mkdirSync(point, { mode: 0o700 })
    else writeFileSync(point, '', { mode: 0o600, flag: 'wx' })
    const staged: Staged = { point, dir }
    // The descriptor's magic link is the pinned inode itself: no name is resolved again.
    if (mount(`/proc/self/fd/${fd}`, point, null, MS.BIND) !== 0) {
      removePoint(staged)
      return undefined
    }
    // A read grant's staging point is read-only too: nothing that walks the staging dir can write through it.
    if (readOnly && mount(null, point, null, MS.REMOUNT | MS.BIND | MS.RDONLY) !== 0) {
      syscall(SYS_UMOUNT2, addr(cstr(point)), BigInt(MNT_DETACH))
      removePoint(staged)
      throw new AppError(ErrorCode.SandboxUnavailable, `cannot make the staging mount of ${pin.path} read-only`, { path: pin.path })
    }
    live.set(point, staged)
    if (!hooked) {
      hooked = true
      process.once('exit', releaseAllStaged)
    }
    return staged
  } finally {
    close(fd)
  }
}

/** Unmounts (lazily: a container may still hold it) and removes staging points, and the staging dir with the last; never recursive. */
export function releaseStaged(points: readonly Staged[]): void {
  for (const s of points) {
    if (!live.delete(s.point)) continue
    syscall(SYS_UMOUNT2, addr(cstr(s.point)), BigInt(MNT_DETACH))
    removePoint(s)
  }
  // The staging dir goes with its last point (as a work dir's instance dir does): never idle in /run.
  if (live.size === 0) releaseOwnDir()
}

/** Releases every staging point this process still holds, and its staging dir (at exit). */
export function releaseAllStaged(): void {
  releaseStaged([...live.values()])
  releaseOwnDir()
}

function releaseOwnDir(): void {
  if (!own) return
  const { dir, lock } = own
  own = undefined
  lock.release()
  try { unlinkSync(join(dir, LOCK_FILE)); rmdirSync(dir) } catch { /* a point still mounted: swept later */ }
}

/**
 * Unmounts and removes the staging points of engines that died (kill -9: no exit hook ran), judged by their dir's lock
 * being free; a dir whose lock is held or unreadable is left alone. Never removes through a mount (no recursive rm).
 */
export function sweepStaging(): number {
  let swept = 0
  let names: string[] = []
  try { names = readdirSync(STAGE_ROOT) } catch { return 0 }
  for (const name of names) {
    const dir = join(STAGE_ROOT, name)
    if (!OWN_DIR.test(name) || dir === own?.dir) continue
    probeLiveness(join(dir, LOCK_FILE), () => {
      for (const entry of readdirSync(dir)) {
        if (entry === LOCK_FILE) continue
        const point = join(dir, entry)
        syscall(SYS_UMOUNT2, addr(cstr(point)), BigInt(MNT_DETACH))
        removePoint({ point, dir: lstatSync(point).isDirectory() })
        swept++
      }
      try { unlinkSync(join(dir, LOCK_FILE)); rmdirSync(dir) } catch { /* a point still mounted: kept */ }
    })
  }
  return swept
}

function removePoint(s: Staged): void {
  try {
    if (s.dir) rmdirSync(s.point)
    else unlinkSync(s.point)
  } catch {
    // Still mounted (the unmount failed): left for the next boot rather than removed through the mount.
  }
}
