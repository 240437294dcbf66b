/**
 * Staging binds: each pinned bind source is opened through no symlink, checked to be the pinned inode, and bind-mounted
 * from that descriptor onto a private, engine-owned path; Docker is handed that path. What Docker resolves by name at
 * the container's start is then ours (a root-only dir), not the granted tree a writer of it could swap.
 */

import { mkdirSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { close, inodeOf, MS, mount, openNoSymlinks, syscall, addr, cstr } from '../process/launcher/libc.ts'
import type { PinnedPath } from '../plugins/path-pin.ts'

/** Where staging points live: root-only, never under a dir anything removes recursively (a staged write grant is live). */
const STAGE_ROOT = '/run/autokestra-stage'
const SYS_UMOUNT2 = process.arch === 'arm64' ? 39 : 166
const MNT_DETACH = 2

/** A staging point: the path Docker mounts, and whether it is a directory. */
export interface Staged { point: string; dir: boolean }

const live = new Map<string, Staged>()
let sequence = 0
let hooked = false

/**
 * Stages `pin` and returns the staging point, or undefined when this process cannot mount (not root): the caller
 * then hands Docker the name, which the running container's check still verifies. PATH_CHANGED when the pinned path
 * no longer leads, through no symlink, to the pinned inode.
 */
export function stagePin(pin: PinnedPath): Staged | undefined {
  if (process.getuid?.() !== 0) return undefined
  const fd = openNoSymlinks(pin.path)
  if (fd < 0) throw new AppError(ErrorCode.PathChanged, `bind source ${pin.path} is gone or goes through a symbolic link; refusing to start`, { path: pin.path })
  try {
    const at = inodeOf(fd)
    if (!at || at.dev !== pin.dev || at.ino !== pin.ino) {
      throw new AppError(ErrorCode.PathChanged, `bind source ${pin.path} is another file than the one checked; refusing to start`, { path: pin.path })
    }
    const dir = statSync(`/proc/self/fd/${fd}`).isDirectory()
    mkdirSync(STAGE_ROOT, { recursive: true, mode: 0o700 })
    const point = join(STAGE_ROOT, `${process.pid}-${++sequence}-${crypto.randomUUID().slice(0, 8)}`)
    if (dir) mkdirSync(point, { mode: 0o700 })
    else writeFileSync(point, '', { mode: 0o600, flag: 'wx' })
    const staged: Staged = { point, dir }
    // The descriptor's magic link is the pinned inode itself: no name is resolved again.
    if (mount(`/proc/self/fd/${fd}`, point, null, MS.BIND) !== 0) {
      removePoint(staged)
      return undefined
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

/** Unmounts (lazily: a container may still hold it) and removes staging points; never recursive. */
export function releaseStaged(points: readonly Staged[]): void {
  for (const s of points) {
    if (!live.delete(s.point)) continue
    syscall(SYS_UMOUNT2, addr(cstr(s.point)), BigInt(MNT_DETACH))
    removePoint(s)
  }
}

/** Releases every staging point this process still holds (at exit). */
export function releaseAllStaged(): void {
  releaseStaged([...live.values()])
}

function removePoint(s: Staged): void {
  try {
    if (s.dir) rmdirSync(s.point)
    else unlinkSync(s.point)
  } catch {
    // Still mounted (the unmount failed): left for the next boot rather than removed through the mount.
  }
}
