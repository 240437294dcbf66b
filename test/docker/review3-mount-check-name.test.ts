/**
 * Review 3 attack, class "the check looks at a name, not at the mount": checkMounts compares the inode it finds at
 * each target path (lstat through /proc/<pid>/root) with the pin of the mount's source. It never asks whether that
 * inode is the mount, nor what was mounted where. When a target lies inside another mounted directory the attacker can
 * write (a task granted `read: [w, w/c]`, w shared or written by any plugin with `write: [w]`), the pinned directory
 * itself can be put back at the target name after the start, inside the parent mount, while Docker mounted
 * something else:
 *
 * 1. between c's pin and the start, `w/c` is swapped for a symlink to another tree (`elsewhere`): Docker resolves the
 *    source by name (elsewhere) and runc, resolving the target inside the container, follows the symlink too, so
 *    `elsewhere` is mounted at its own path in the container, not at `w/c`;
 * 2. between the start and the check, the symlink goes and the pinned directory is renamed back to `w/c`.
 *
 * The check then finds the pinned inode at `w/c` and passes (no WARN), the invocation goes out, and the plugin reads
 * `elsewhere`, never granted, at its host path inside the container. (Both windows are tens of milliseconds; a
 * local user flipping in a loop, as test/docker/review2-grant-symlink.test.ts does, hits them; here each step is
 * done in between, deterministically, on a real container.)
 *
 * Suggested fix: verify mounts, not names: read /proc/<pid>/mountinfo and require, for each target, a mount at that
 * exact mount point whose source (device, root) is the pinned inode, and no bind mount that is not in the spec
 * (`elsewhere` shows up as an extra mount); or fstat the target opened with openat2(RESOLVE_IN_ROOT|
 * RESOLVE_NO_SYMLINKS) on /proc/<pid>/root and compare its mount id (statx STATX_MNT_ID) with the mount's. Better
 * still, hand Docker a source it cannot re-resolve: bind-mount each pinned descriptor onto a private, engine-owned
 * staging path (/proc/self/fd/N) and mount that.
 */

import { afterAll, beforeAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkMounts, pinMounts, releaseMounts } from '../../sandbox/docker/mount-pins.ts'
import { removeLabelled, samePathBinds, startSleeper, swapForSymlink } from '../helpers/mount-attack.ts'
import { dockerReachable, mustRunDocker } from './helpers.ts'

const docker = new Dockerode()
const test = (await dockerReachable(docker)) || mustRunDocker ? it : it.skip
const VALUE = 'review3-mount-name'
const SECRET = 'ELSEWHERE-NOT-GRANTED-4b7e'
let srv: string

beforeAll(() => {
  // Not under /tmp (the container's /tmp is its own tmpfs).
  srv = mkdtempSync('/var/tmp/ak-review3-mname-')
  chmodSync(srv, 0o755)
})
afterAll(async () => {
  await removeLabelled(docker, VALUE)
  if (srv) rmSync(srv, { recursive: true, force: true })
})

/** Runs `cat path` in the container as the plugin's user; its output, or the error. */
async function readInContainer(container: Dockerode.Container, path: string): Promise<string> {
  const exec = await container.exec({ Cmd: ['bun', '--config=/dev/null', '-e', `try { console.log(require('fs').readFileSync(${JSON.stringify(path)}, 'utf8')) } catch (e) { console.log(e.code) }`], User: '65534:65534', AttachStdout: true, AttachStderr: true })
  const stream = await exec.start({ hijack: true, stdin: false })
  const chunks: Buffer[] = []
  stream.on('data', (c: Buffer) => chunks.push(c))
  await new Promise<void>((resolve) => { stream.on('end', () => resolve()); stream.on('close', () => resolve()) })
  return Buffer.concat(chunks).toString('latin1')
}

test('a pinned directory put back at its target name after the start does not pass for the mount', async () => {
  const w = join(srv, 'w'), c = join(w, 'c'), elsewhere = join(srv, 'elsewhere')
  for (const d of [w, c, elsewhere]) { mkdirSync(d, { recursive: true }); chmodSync(d, 0o755) }
  writeFileSync(join(elsewhere, 'secret.txt'), SECRET); chmodSync(join(elsewhere, 'secret.txt'), 0o644)
  const mounts = samePathBinds([w, c])
  const pinned = pinMounts(mounts, new Map())
  // 1. Between the pin and the start: w/c becomes a symlink to elsewhere.
  swapForSymlink(c, elsewhere)
  let container: Dockerode.Container | undefined
  try {
    const started = await startSleeper(docker, mounts, VALUE)
    container = started.container
    const pid = started.pid
    // 2. Between the start and the check: the pinned directory back at its name (inside the w mount).
    rmSync(c)
    renameSync(`${c}.pinned`, c)
    const check = checkMounts(pid, pinned)
    // What the plugin gets once the invocation is written: the tree that was never granted.
    const seen = await readInContainer(container, join(elsewhere, 'secret.txt'))
    expect({ check, leaked: seen.includes(SECRET) }).toEqual({ check: expect.objectContaining({ ok: false }), leaked: false })
  } finally {
    await container?.remove({ force: true }).catch(() => undefined)
    releaseMounts(pinned) // the staging mounts pinMounts made
  }
}, 90_000)
