/**
 * Bind mounts by what the engine checked. Docker resolves each bind source on the host, following symlinks, when the
 * container starts, well after the engine looked at it; so every source is canonical and pinned (device, inode)
 * before the container is created (the plugin directory to the inode it was loaded from), and once the container
 * runs, before the invocation is written (a Bun plugin's boot, and an exec plugin's gate, wait for it), each mount is
 * verified from the host as a mount (mount-check.ts). A mismatch kills the container: PATH_CHANGED.
 */

import type Dockerode from 'dockerode'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { Permissions } from '../manifest.ts'
import { pinCanonical, type PinnedPath } from '../plugins/path-pin.ts'
import { releaseStaged, stagePin } from './mount-stage.ts'

type Mount = NonNullable<NonNullable<Dockerode.ContainerCreateOptions['HostConfig']>['Mounts']>[number]

import type { MountCheck, PinnedMount } from './mount-check.ts'

export { checkContainerMounts, checkMounts, type MountCheck, type PinnedMount } from './mount-check.ts'

/** Drops a trailing glob (`/**`, `/*`) and slash: a directory grant mounts the directory. */
export const normaliseGrant = (path: string): string => path.replace(/\/\*\*?$/, '').replace(/(.)\/+$/, '$1')

/**
 * Pins each filesystem grant path as it is now. The engine hands the runner each path in its canonical form, checked
 * as such (actors/task/permissions.ts launchGrant): one that now goes through a symlink was swapped since, and is
 * refused (PATH_CHANGED); one that does not exist is left out (containerSpec reports it as skipped).
 */
export function pinGrantPaths(p: Permissions): Map<string, PinnedPath> {
  const out = new Map<string, PinnedPath>()
  for (const raw of new Set([...(p.filesystem?.read ?? []), ...(p.filesystem?.write ?? [])])) {
    const path = normaliseGrant(raw)
    if (!path.startsWith('/')) continue
    const pin = pinCanonical(path)
    if (!pin) continue
    if (pin.path !== path) {
      throw new AppError(ErrorCode.PathChanged,
        `filesystem grant ${path} changed since it was checked: it goes through a symbolic link (to ${pin.path}); refusing to start`,
        { path, resolved: pin.path })
    }
    out.set(path, pin)
  }
  return out
}

/** Docker API 1.40's BindOptions.NonRecursive (dockerode's types predate it). */
const NON_RECURSIVE = { NonRecursive: true }

/**
 * The pins of every bind mount of a container spec: `known` ones (the plugin directory as loaded, the grants as
 * pinned above), the rest (guest folder, out dir, deadline tool: engine-owned) pinned now by their canonical path.
 * Each mount's source is set to the staging point of its pinned inode (mount-stage.ts), or, for those in `unstaged`
 * (engine-owned: out dir, guest folder, deadline tool — nobody else can swap them, and a path derived from a staging
 * point must never be removed recursively) or where staging cannot be done, to the canonical path it was pinned by.
 * `stage`: whether the daemon sees this process's mounts (the runner's can-look decision; tests on this host: true).
 */
export function pinMounts(mounts: Mount[], known: ReadonlyMap<string, PinnedPath>, unstaged: ReadonlySet<string> = new Set(), stage = true): PinnedMount[] {
  const out: PinnedMount[] = []
  try {
    for (const m of mounts) {
      if (m.Type !== 'bind' || !m.Source || !m.Target) continue
      const pin = known.get(m.Source) ?? pinCanonical(m.Source)
      if (!pin) throw new AppError(ErrorCode.PathChanged, `bind source ${m.Source} is gone; refusing to start`, { path: m.Source })
      // Docker is handed the pinned inode's staging point when this engine can mount (mount-stage.ts), else the name.
      const staged = !stage || unstaged.has(m.Source) || unstaged.has(pin.path) ? undefined : stagePin(pin, m.ReadOnly === true)
      m.Source = staged?.point ?? pin.path
      // Only the granted tree: a recursive bind would bring the source's own submounts, unchecked (and writable under a
      // read-only grant), and make a mount outside the spec indistinguishable from one Docker was tricked into.
      m.BindOptions = { Propagation: m.BindOptions?.Propagation ?? 'rprivate', ...NON_RECURSIVE }
      out.push({ source: pin.path, target: m.Target, pin, ...(staged ? { staged } : {}) })
    }
    return out
  } catch (e) {
    releaseMounts(out)
    throw e
  }
}

/** Releases the staging points of `pinned` (once the container is removed). */
export function releaseMounts(pinned: readonly PinnedMount[]): void {
  releaseStaged(pinned.flatMap((m) => (m.staged ? [m.staged] : [])))
}

/** The error of an attempt whose mounts the engine cannot verify, and the operator did not allow it. */
export function unverifiedError(why: string): AppError {
  return new AppError(ErrorCode.MountUnverified,
    `the container's bind mounts cannot be verified (${why}); the attempt is refused and nothing of it was taken ` +
    '(set sandbox.dockerUnverifiedMounts: allow to run such attempts with a WARN and their mounts as Docker resolved them)', { reason: why })
}

/** The error of a failed check: PATH_CHANGED for a mount that is not what was pinned, MOUNT_UNVERIFIED when none could be made. */
export function mountError(c: Exclude<MountCheck, { ok: true }>): AppError {
  if ('failed' in c) {
    return new AppError(ErrorCode.MountUnverified,
      `the container's bind mounts could not be verified (${c.failed}); it was killed and its output and result dropped`, {})
  }
  if ('extra' in c) {
    return new AppError(ErrorCode.PathChanged,
      `the container has a mount at ${c.extra} that its spec does not make (${c.found}): a bind target was swapped for a symlink; the container was killed before the plugin's result was taken`,
      { target: c.extra })
  }
  const { source, target, pin } = c.changed
  return new AppError(ErrorCode.PathChanged,
    `bind source ${source} changed between the engine's check and the container's start: ${target} in the container is ` +
    `${c.found}, not the pinned inode ${pin.dev}:${pin.ino} (a symlink or another file swapped in); the container was killed before anything of the attempt was taken`,
    { source, target })
}
