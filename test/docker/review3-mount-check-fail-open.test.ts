/**
 * Review 3 attack, class "a check that fails open": the docker runner compares the inode mounted at each target
 * with its pin (mount-pins.ts checkMounts), walking the targets in order from the host through /proc/<pid>/root.
 * Any error of that walk but ENOENT (lstat throws: ENOTDIR, ELOOP, EACCES, ENAMETOOLONG…) returns `unverifiable`
 * for the whole container, and the runner then only logs a WARN ("bind mounts not verified") and writes the
 * invocation: every mount after the one that threw goes unchecked, the swapped one included. "Unverifiable" was meant
 * for an engine that cannot look at all (remote or rootless Docker, a non-root engine); here the engine can look,
 * and the attacker chose what it sees.
 *
 * Who can make the walk throw: whoever can write a directory that another mounted target goes through. A task granted
 * `read: [w, w/sub/r, c]` (w shared, or written by any plugin with `write: [w]`, in this container or another one,
 * under either runner): between the container's start and the check, `w/sub` is renamed away and a plain file
 * put in its place. In the container `/w` is the host's `w` (a bind mount of the same directory), so the walk to
 * `w/sub/r` now meets a file: ENOTDIR. The mount `c`, whose source was swapped for a symlink to another tree between
 * its pin and the start (the window test/docker/path-pins.test.ts makes deterministic the same way), is never looked at.
 *
 * Here: the real check against a real container (the runner's code path from `pinMounts` to `checkMounts`), with the
 * two races made deterministic by doing each step in between. The control: without the ENOTDIR, c's swap is caught.
 *
 * Suggested fix: fail closed. Only "this pid is not here / not ours" (ENOENT or ESRCH on /proc/<pid>/root itself,
 * checked once, before the mounts) may be `unverifiable`; any error on a target is `changed`. Better, do not walk
 * names at all: open /proc/<pid>/root once (O_PATH), then each target with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS
 * |RESOLVE_NO_MAGICLINKS) and compare fstat, or read /proc/<pid>/mountinfo and match each target's mount (its root
 * and device) with the pin. And make `unverifiable` refuse the attempt unless the operator opted in.
 */

import { afterAll, beforeAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkMounts, pinMounts, releaseMounts, type PinnedMount } from '../../sandbox/docker/mount-pins.ts'
import { removeLabelled, samePathBinds, startSleeper, swapForSymlink } from '../helpers/mount-attack.ts'
import { dockerReachable, mustRunDocker } from './helpers.ts'

const docker = new Dockerode()
const test = (await dockerReachable(docker)) || mustRunDocker ? it : it.skip
const VALUE = 'review3-fail-open'
let srv: string

beforeAll(() => {
  // Not under /tmp (the container's /tmp is its own tmpfs).
  srv = mkdtempSync('/var/tmp/ak-review3-failopen-')
  chmodSync(srv, 0o755)
})
afterAll(async () => {
  await removeLabelled(docker, VALUE)
  if (srv) rmSync(srv, { recursive: true, force: true })
})

/** Sets up w, w/sub/r and c under a fresh dir, pins them, swaps c for a symlink, and starts a container with the three. */
async function scenario(name: string): Promise<{ base: string; pinned: PinnedMount[]; container: Dockerode.Container; pid: number }> {
  const base = join(srv, name)
  const w = join(base, 'w'), r = join(w, 'sub', 'r'), c = join(base, 'c'), elsewhere = join(base, 'elsewhere')
  for (const d of [base, w, join(w, 'sub'), r, c, elsewhere]) { mkdirSync(d, { recursive: true }); chmodSync(d, 0o755) }
  writeFileSync(join(elsewhere, 'secret.txt'), 'NOT-GRANTED-ELSEWHERE')
  const mounts = samePathBinds([w, r, c])
  const pinned = pinMounts(mounts, new Map())
  // c swapped between its pin and the start: Docker mounts what the symlink points to.
  swapForSymlink(c, elsewhere)
  return { base, pinned, ...(await startSleeper(docker, mounts, VALUE)) }
}

test('control: a source swapped between pin and start is caught', async () => {
  const { pinned, container, pid } = await scenario('control')
  try {
    expect(checkMounts(pid, pinned)).toMatchObject({ ok: false, changed: { target: expect.stringMatching(/\/c$/) } })
  } finally {
    await container.remove({ force: true }).catch(() => undefined)
    releaseMounts(pinned) // the staging mounts pinMounts made
  }
}, 90_000)

test('a file put where a mounted target passes makes no later swap go unchecked', async () => {
  const { base, pinned, container, pid } = await scenario('attack')
  try {
    // Whoever writes w: sub (holding the mount point r) renamed away, a file in its place.
    renameSync(join(base, 'w', 'sub'), join(base, 'w', 'sub.away'))
    writeFileSync(join(base, 'w', 'sub'), '')
    const check = checkMounts(pid, pinned)
    // What the runner does with it: `unverifiable` is a WARN and the invocation goes out (runner.ts driveContainer).
    expect(check).not.toHaveProperty('unverifiable')
    expect(check).toMatchObject({ ok: false, changed: expect.anything() })
  } finally {
    await container.remove({ force: true }).catch(() => undefined)
    releaseMounts(pinned) // the staging mounts pinMounts made
  }
}, 90_000)
