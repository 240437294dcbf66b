/**
 * Review 4 attack, class "a check that fails open". can-look.ts decides once, before any container, whether the
 * engine verifies mounts; when it decides "cannot look", every Docker attempt runs with its binds unverified and
 * unstaged (Docker resolves grant names at start: review 3's holes 5-7 reopen) and only a WARN says so. The decision
 * hangs on a proxy: `/var/run/docker.pid` must name a process whose `/proc/<pid>/exe` basename is exactly `dockerd`.
 * A dockerd whose binary was replaced under it (a package upgrade or config management that does not restart it,
 * live-restore setups) reads `/usr/sbin/dockerd (deleted)`: the very daemon the engine talks to, in its pid and mount
 * namespace, is judged "not ours" and the check is skipped. (Likewise a daemon with a non-default `--pidfile`.)
 *
 * This test runs, in a private mount namespace (the shared daemon and its pid file are untouched), a process named
 * dockerd whose binary was deleted, with a pid file naming it bind-mounted over /var/run/docker.pid, and asks
 * localDaemon(): it must still be recognised as a daemon of this pid namespace.
 *
 * Suggested fix: do not let "cannot look" follow from a proxy that benign changes falsify: fail closed (refuse the
 * attempt) unless the operator opted in to unverified mounts in config; decide per container from what can be
 * verified directly (the container's State.Pid is visible in our /proc and its /proc/<pid>/cgroup names the container
 * id), and if the pid file is kept, compare /proc/<pid>/exe with " (deleted)" stripped, or by the daemon's socket
 * peer (SO_PEERCRED on the Docker socket gives the daemon's pid in our namespace, no pid file needed).
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, copyFileSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = process.getuid?.() === 0
let dir: string
let fake: ReturnType<typeof Bun.spawn> | undefined

describe.if(root && Bun.which('unshare') !== null)('review 4: can-look recognises an upgraded dockerd', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ak-review4-canlook-'))
    const bin = join(dir, 'dockerd')
    copyFileSync(Bun.which('sleep')!, bin)
    chmodSync(bin, 0o755)
    fake = Bun.spawn([bin, '600'], { stdout: 'ignore', stderr: 'ignore' })
    // The binary replaced under the running daemon: its exe link now ends in " (deleted)".
    unlinkSync(bin)
    writeFileSync(join(dir, 'docker.pid'), `${fake.pid}\n`)
  })
  afterAll(() => {
    fake?.kill()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('a dockerd whose binary was replaced is still the local daemon', () => {
    const probe = `import { localDaemon } from ${JSON.stringify(join(import.meta.dir, '../../sandbox/docker/can-look.ts'))}; console.log(JSON.stringify(localDaemon() ?? null))`
    const r = Bun.spawnSync(['unshare', '-m', '--propagation', 'private', 'sh', '-c',
      `mount --bind "$1" /var/run/docker.pid && exec "$2" -e "$3"`, 'sh', join(dir, 'docker.pid'), process.execPath, probe],
    { stdout: 'pipe', stderr: 'pipe' })
    expect(r.exitCode).toBe(0)
    const seen = JSON.parse(r.stdout.toString()) as { pid: number } | null
    expect(seen).toMatchObject({ pid: fake!.pid })
  })
})
