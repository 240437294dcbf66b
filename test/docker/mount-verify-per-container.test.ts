/**
 * Issue 10, class "a security check that silently degrades to a warning" (docker runner). Mount checks used to hang
 * on a proxy decided once per runner: the pid in `/var/run/docker.pid` naming a `dockerd` here. A daemon started with
 * another `--pidfile` (or a pid file absent or stale) made the engine "unable to look": every attempt then ran with
 * its binds unstaged and unverified, with only a WARN, and a grant source swapped just before the start handed the
 * plugin another tree. And where the engine truly cannot look (remote or rootless Docker), the attempt ran anyway.
 *
 * Now: the engine looks at each container through its own init, proven from /proc (its cgroup names the container's
 * id, it is pid 1 of a pid namespace below ours, it started after the container was created), not through the pid
 * file; and an attempt whose mounts cannot be verified fails MOUNT_UNVERIFIED unless the operator set
 * `sandbox.dockerUnverifiedMounts: allow`.
 *
 * The swap is made deterministic by a proxy in front of the daemon's socket (still a local unix socket) that does it
 * when the runner's start request passes: the hostile local party's move at the worst moment. Behind the proxy the
 * socket's listener is no dockerd, so with the pid file gone nothing names the daemon: binds are not staged and the
 * swap takes effect in Docker's mount; the per-container check must catch it.
 */

import { afterAll, beforeAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createDockerRunner } from '../../sandbox/docker/runner.ts'
import { engineCanLook, seeContainer } from '../../sandbox/docker/can-look.ts'
import { ensureImage } from '../../sandbox/docker/image.ts'
import { checkContainerMounts, pinMounts, releaseMounts } from '../../sandbox/docker/mount-pins.ts'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { startDockerProxy, type DockerProxy } from '../helpers/docker-proxy.ts'
import { removeLabelled, samePathBinds, startSleeper, swapForSymlink } from '../helpers/mount-attack.ts'
import { dockerReachable, leftovers, mustRunDocker, request } from './helpers.ts'

const docker = new Dockerode()
const reachable = await dockerReachable(docker)
const root = process.getuid?.() === 0
const test = (reachable || mustRunDocker) && (root || mustRunDocker) ? it : it.skip
const limits = { memoryMb: 128, cpuSeconds: 30, maxProcesses: 16, maxOutputBytes: 1 << 20 }
const LABEL = 'mount-verify-per-container'
const SECRET = 'Y-NOT-GRANTED-pidfile-5e1b'
let srv: string
let plugin: LoadedPlugin
/** A pid file that names no dockerd: this test process. */
let elsewherePidFile: string
const missingPidFile = '/nonexistent/autokestra-test/docker.pid'
const proxies: DockerProxy[] = []

beforeAll(async () => {
  // Not under /tmp (the container's /tmp is its own tmpfs).
  srv = mkdtempSync('/var/tmp/ak-verify-pidfile-')
  chmodSync(srv, 0o755)
  elsewherePidFile = join(srv, 'docker.pid')
  writeFileSync(elsewherePidFile, `${process.pid}\n`)
  const dir = join(srv, 'reader')
  mkdirSync(dir); chmodSync(dir, 0o755)
  writeFileSync(join(dir, 'plugin.yaml'), 'namespace: hostile\nname: pidfile-reader\nversion: 1.0.0\nruntime: bun\nentry: index.ts\nrunner: docker\nactions:\n  - name: read\n')
  writeFileSync(join(dir, 'index.ts'), `import { readFileSync } from 'node:fs'
console.log('PLUGIN-LOADED')
export default { actions: { read: async (i: { path: string }) => { console.log('PLUGIN-RAN'); try { return { content: readFileSync(i.path, 'utf8') } } catch (e) { return { error: String((e as { code?: string }).code) } } } } }
`)
  plugin = loadManifest(dir)
  if (reachable) await ensureImage(docker)
}, 120_000)
afterAll(async () => {
  for (const p of proxies) await p.close()
  await removeLabelled(docker, LABEL)
  const left = await docker.listContainers({ all: true, filters: { label: ['autokestra.plugin=hostile/pidfile-reader'] } }).catch(() => [])
  for (const c of left) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)
  if (srv) rmSync(srv, { recursive: true, force: true })
})

/** x/in (granted, holding a harmless file) and y (not granted, holding SECRET), fresh under `name`. */
function grantTree(name: string): { x: string; y: string; grant: string } {
  const base = join(srv, name), x = join(base, 'x'), y = join(base, 'y'), grant = join(x, 'in')
  for (const d of [base, x, grant, y]) { mkdirSync(d, { recursive: true }); chmodSync(d, 0o755) }
  writeFileSync(join(grant, 'secret.txt'), 'granted-content'); chmodSync(join(grant, 'secret.txt'), 0o644)
  writeFileSync(join(y, 'secret.txt'), SECRET); chmodSync(join(y, 'secret.txt'), 0o644)
  return { x, y, grant }
}

/** A proxy on a local unix socket that swaps `grant` for a symlink to `y` when the first container start passes it. */
async function swappingProxy(name: string, grant: string, y: string): Promise<{ proxy: DockerProxy; swapped: () => boolean }> {
  let swapped = false
  const proxy = await startDockerProxy(join(srv, `${name}.sock`), (chunk) => {
    if (!swapped && /^POST \S*\/containers\/[0-9a-f]{64}\/start\b/m.test(chunk)) {
      swapped = true
      swapForSymlink(grant, y)
    }
  })
  proxies.push(proxy)
  return { proxy, swapped: () => swapped }
}

for (const [what, pidFile] of [['absent', missingPidFile], ['naming another process', '']] as const) {
  test(`the pid file ${what}: a grant swapped just before the start is still caught, nothing of the attempt taken`, async () => {
    const { y, grant } = grantTree(`swap-${what.replace(/ /g, '-')}`)
    const { proxy, swapped } = await swappingProxy(`swap-${what.length}`, grant, y)
    const runner = createDockerRunner({ docker: proxy.docker, limits, look: { pidFile: pidFile || elsewherePidFile } })
    const { req, logs } = request(plugin, 'read', { permissions: { filesystem: { read: [grant] } }, input: { path: join(grant, 'secret.txt') } })
    const out = await runner.run(req)
    expect(swapped()).toBe(true)
    expect(JSON.stringify(out)).not.toContain(SECRET)
    expect(logs.some((l) => l.message.includes('not verified'))).toBe(false)
    expect(logs.filter((l) => l.stream !== 'engine')).toEqual([])
    expect(out).toMatchObject({ ok: false, error: { code: 'PATH_CHANGED' } })
    expect(await leftovers(docker, req.context.taskId)).toBe(0)
  }, 90_000)
}

test('control: the pid file naming another process, an untouched grant runs verified (no WARN)', async () => {
  const { grant } = grantTree('control-elsewhere')
  const runner = createDockerRunner({ docker, limits, look: { pidFile: elsewherePidFile } })
  const { req, logs } = request(plugin, 'read', { permissions: { filesystem: { read: [grant] } }, input: { path: join(grant, 'secret.txt') } })
  const out = await runner.run(req)
  expect(out).toMatchObject({ ok: true, output: { content: 'granted-content' } })
  expect(logs.some((l) => l.message.includes('not verified'))).toBe(false)
}, 90_000)

test('control: with the default pid file the same swap is harmless (the bind was staged from the pinned inode)', async () => {
  const { y, grant } = grantTree('control-staged')
  const { proxy, swapped } = await swappingProxy('staged', grant, y)
  const runner = createDockerRunner({ docker: proxy.docker, limits })
  const { req } = request(plugin, 'read', { permissions: { filesystem: { read: [grant] } }, input: { path: join(grant, 'secret.txt') } })
  const out = await runner.run(req)
  expect(swapped()).toBe(true)
  expect(JSON.stringify(out)).not.toContain(SECRET)
  // The staged mount is the pinned tree; the source's name, swapped meanwhile, is still refused (an attack under way).
  expect(out).toMatchObject({ ok: false, error: { code: 'PATH_CHANGED' } })
}, 90_000)

test('staging finds the daemon as its socket\'s listener, else by its pid file; looking needs neither', async () => {
  // dockerd listens on its socket itself: found there, whatever its pid file (staged, so a swap is harmless).
  expect(await engineCanLook(docker, { pidFile: missingPidFile })).toEqual({ ok: true, stage: true })
  // Behind a proxy (the listener is this test process, no dockerd), only the pid file can name it.
  const proxy = await startDockerProxy(join(srv, 'plain.sock'))
  proxies.push(proxy)
  expect(await engineCanLook(proxy.docker)).toEqual({ ok: true, stage: true })
  expect(await engineCanLook(proxy.docker, { pidFile: missingPidFile })).toEqual({ ok: true, stage: false })
  expect(await engineCanLook(proxy.docker, { pidFile: elsewherePidFile })).toEqual({ ok: true, stage: false })
})

test('the check catches a swap through the proven process, unstaged', async () => {
  const base = join(srv, 'direct'), kept = join(base, 'kept'), swapped = join(base, 'swapped'), elsewhere = join(base, 'elsewhere')
  for (const d of [base, kept, swapped, elsewhere]) { mkdirSync(d, { recursive: true }); chmodSync(d, 0o755) }
  const mounts = samePathBinds([kept, swapped])
  const pinned = pinMounts(mounts, new Map(), new Set(), false)
  swapForSymlink(swapped, elsewhere)
  const { container } = await startSleeper(docker, mounts, LABEL)
  try {
    const info = await container.inspect()
    const seen = seeContainer({ id: info.Id, pid: info.State.Pid, created: info.Created }, { pidFile: missingPidFile })
    if (!seen.ok) throw new Error(seen.why)
    try {
      expect(checkContainerMounts(seen.proc, pinned)).toMatchObject({ ok: false })
    } finally {
      seen.proc.close()
    }
  } finally {
    await container.remove({ force: true }).catch(() => undefined)
    releaseMounts(pinned)
  }
}, 90_000)

test('a pid is the container\'s only when its own /proc says so: another container\'s init, this process, a bad id are refused', async () => {
  const a = await startSleeper(docker, [], LABEL)
  const b = await startSleeper(docker, [], LABEL)
  try {
    const ia = await a.container.inspect(), ib = await b.container.inspect()
    const own = seeContainer({ id: ia.Id, pid: ia.State.Pid, created: ia.Created })
    expect(own.ok).toBe(true)
    if (own.ok) own.proc.close()
    for (const [pid, id] of [[ib.State.Pid, ia.Id], [process.pid, ia.Id], [ia.State.Pid, ia.Id.slice(0, 12)], [ia.State.Pid, ib.Id]] as const) {
      const seen = seeContainer({ id, pid, created: ia.Created })
      expect(seen).toMatchObject({ ok: false, why: expect.any(String) })
    }
    // A process that started before the container was created is not its init.
    const early = seeContainer({ id: ia.Id, pid: ia.State.Pid, created: new Date(Date.now() + 60_000).toISOString() })
    expect(early).toMatchObject({ ok: false, why: expect.stringContaining('started before') })
    // A /proc that is not the daemon's (a pid namespace the daemon's pids do not name): cannot look.
    expect(seeContainer({ id: ia.Id, pid: ia.State.Pid, created: ia.Created }, { procRoot: srv })).toMatchObject({ ok: false })
  } finally {
    await a.container.remove({ force: true }).catch(() => undefined)
    await b.container.remove({ force: true }).catch(() => undefined)
  }
}, 90_000)

test('by default an engine that cannot look fails the attempt MOUNT_UNVERIFIED, before any container, naming why and the key', async () => {
  const proxy = await startDockerProxy('tcp')
  proxies.push(proxy)
  const { grant } = grantTree('remote-refuse')
  const runner = createDockerRunner({ docker: proxy.docker, limits })
  const { req, logs } = request(plugin, 'read', { permissions: { filesystem: { read: [grant] } }, input: { path: join(grant, 'secret.txt') } })
  const out = await runner.run(req)
  const message = out.ok ? '' : out.error.message
  expect(message).toContain('the Docker engine is remote')
  expect(message).toContain('sandbox.dockerUnverifiedMounts: allow')
  expect(out).toMatchObject({ ok: false, error: { code: 'MOUNT_UNVERIFIED' } })
  expect(logs.filter((l) => l.stream !== 'engine')).toEqual([])
  expect(await leftovers(docker, req.context.taskId)).toBe(0)
}, 90_000)

test('by default a container whose init cannot be proven ours is killed MOUNT_UNVERIFIED, nothing of it taken', async () => {
  const { grant } = grantTree('unproven-refuse')
  // A /proc whose pids are not the daemon's: the engine cannot look at this container.
  const runner = createDockerRunner({ docker, limits, look: { procRoot: srv } })
  const { req, logs } = request(plugin, 'read', { permissions: { filesystem: { read: [grant] } }, input: { path: join(grant, 'secret.txt') } })
  const out = await runner.run(req)
  const message = out.ok ? '' : out.error.message
  expect(message).toContain('the engine cannot look at this container')
  expect(message).toContain('sandbox.dockerUnverifiedMounts: allow')
  expect(out).toMatchObject({ ok: false, error: { code: 'MOUNT_UNVERIFIED' } })
  expect(logs.filter((l) => l.stream !== 'engine')).toEqual([])
  expect(await leftovers(docker, req.context.taskId)).toBe(0)
}, 90_000)

test('with sandbox.dockerUnverifiedMounts: allow, an engine that cannot look runs the attempt with the WARN', async () => {
  const proxy = await startDockerProxy('tcp')
  proxies.push(proxy)
  const { grant } = grantTree('remote-allow')
  for (const runner of [
    createDockerRunner({ docker: proxy.docker, limits, unverifiedMounts: 'allow' }),
    createDockerRunner({ docker, limits, unverifiedMounts: 'allow', look: { procRoot: srv } }),
  ]) {
    const { req, logs } = request(plugin, 'read', { permissions: { filesystem: { read: [grant] } }, input: { path: join(grant, 'secret.txt') } })
    const out = await runner.run(req)
    expect(out).toMatchObject({ ok: true, output: { content: 'granted-content' } })
    expect(logs.some((l) => l.level === 'WARN' && l.stream === 'engine' && l.message.includes('bind mounts not verified'))).toBe(true)
  }
}, 90_000)
