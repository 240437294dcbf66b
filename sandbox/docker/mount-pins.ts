/**
 * Bind mounts by what the engine checked. Docker resolves each bind source on the host, following symlinks, when the
 * container starts, well after the engine looked at it; so every source is canonical and pinned (device, inode)
 * before the container is created (the plugin directory to the inode it was loaded from), and once the container
 * runs, before the invocation is written (a Bun plugin's boot, and an exec plugin's gate, wait for it), the inode
 * mounted at each target is compared with its pin from the host, through /proc/<pid>/root of the container's init.
 * A mismatch kills the container: PATH_CHANGED.
 */

import type Dockerode from 'dockerode'
import { lstatSync } from 'node:fs'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { Permissions } from '../manifest.ts'
import { pinCanonical, type PinnedPath } from '../plugins/path-pin.ts'

type Mount = NonNullable<NonNullable<Dockerode.ContainerCreateOptions['HostConfig']>['Mounts']>[number]

/** A bind mount with the pin its source had when the engine took it. */
export interface PinnedMount { source: string; target: string; pin: PinnedPath }

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

/**
 * The pins of every bind mount of a container spec: `known` ones (the plugin directory as loaded, the grants as
 * pinned above), the rest (guest folder, out dir, deadline tool: engine-owned) pinned now by their canonical path.
 * Each mount's source is set to the canonical path it was pinned by.
 */
export function pinMounts(mounts: Mount[], known: ReadonlyMap<string, PinnedPath>): PinnedMount[] {
  return mounts.flatMap((m): PinnedMount[] => {
    if (m.Type !== 'bind' || !m.Source || !m.Target) return []
    const pin = known.get(m.Source) ?? pinCanonical(m.Source)
    if (!pin) throw new AppError(ErrorCode.PathChanged, `bind source ${m.Source} is gone; refusing to start`, { path: m.Source })
    m.Source = pin.path
    return [{ source: pin.path, target: m.Target, pin }]
  })
}

/** How the mounts of a running container compare with their pins. */
export type MountCheck = { ok: true } | { ok: false; unverifiable: string } | { ok: false; changed: PinnedMount; found: string }

/**
 * Compares the inode mounted at each target inside the container (its init's root, from the host) with the pin of
 * its source. `unverifiable` when the engine cannot look (the container is gone, or runs where /proc/<pid> is not
 * this host's or not ours to read: a remote or rootless engine, a non-root engine).
 */
export function checkMounts(pid: number, mounts: readonly PinnedMount[]): MountCheck {
  if (!(pid > 0)) return { ok: false, unverifiable: 'the container is not running' }
  for (const m of mounts) {
    let st
    try {
      st = lstatSync(`/proc/${pid}/root${m.target}`, { bigint: true, throwIfNoEntry: false })
    } catch (e) {
      return { ok: false, unverifiable: `/proc/${pid}/root: ${(e as NodeJS.ErrnoException).code ?? String(e)}` }
    }
    if (!st) {
      // The container's root gone, or not this host's process: nothing can be said about any mount.
      if (lstatSync(`/proc/${pid}/root/`, { throwIfNoEntry: false }) === undefined) return { ok: false, unverifiable: `no /proc/${pid}/root here` }
      return { ok: false, changed: m, found: 'nothing' }
    }
    if (String(st.dev) !== m.pin.dev || String(st.ino) !== m.pin.ino) return { ok: false, changed: m, found: `inode ${st.dev}:${st.ino}` }
  }
  return { ok: true }
}

/** The PATH_CHANGED error for a mount that is not what was pinned. */
export function mountChanged(c: { changed: PinnedMount; found: string }): AppError {
  const { source, target, pin } = c.changed
  return new AppError(ErrorCode.PathChanged,
    `bind source ${source} changed between the engine's check and the container's start: ${target} in the container is ` +
    `${c.found}, not the pinned inode ${pin.dev}:${pin.ino} (a symlink or another file swapped in); the container was killed before the plugin ran`,
    { source, target })
}
