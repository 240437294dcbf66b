/**
 * The class behind review2-plugin-dir-swap and review2-grant-symlink (docker runner: "a path checked, then mounted by
 * name"), with variants the review did not list, against the real engine:
 * - the mount check itself, with the race made deterministic: a bind source swapped for a symlink after it was pinned
 *   and before the container started is seen in the running container (its target holds another inode), and an
 *   untouched one is not;
 * - a `bunfig.toml` in the plugin directory (the container's working dir): its preload would run plugin code at start,
 *   before the invocation is written and so before the engine has checked the mounts; it runs nothing;
 * - a grant path whose parent became a symlink after the task's check: refused PATH_CHANGED before any container.
 */

import { afterAll, beforeAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createDockerRunner } from '../../sandbox/docker/runner.ts'
import { checkMounts, pinMounts, releaseMounts } from '../../sandbox/docker/mount-pins.ts'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import { startSleeper, swapForSymlink } from '../helpers/mount-attack.ts'
import { dockerReachable, mustRunDocker, request } from './helpers.ts'

const docker = new Dockerode()
const test = (await dockerReachable(docker)) || mustRunDocker ? it : it.skip
const limits = { memoryMb: 128, cpuSeconds: 30, maxProcesses: 16, maxOutputBytes: 1 << 20 }
const LABEL = 'autokestra.test'
let srv: string

beforeAll(() => {
  // Not under /tmp (the container's /tmp is its own tmpfs).
  srv = mkdtempSync('/var/tmp/ak-docker-pins-')
  chmodSync(srv, 0o755)
})
afterAll(async () => {
  const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL}=path-pins`] } }).catch(() => [])
  for (const c of left) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)
  if (srv) rmSync(srv, { recursive: true, force: true })
})

test('a bind source swapped for a symlink between its pin and the start is caught in the running container', async () => {
  const kept = join(srv, 'kept'), swapped = join(srv, 'swapped'), elsewhere = join(srv, 'elsewhere')
  for (const d of [kept, swapped, elsewhere]) { mkdirSync(d); chmodSync(d, 0o755) }
  const mounts = [
    { Type: 'bind' as const, Source: kept, Target: '/kept', ReadOnly: true },
    { Type: 'bind' as const, Source: swapped, Target: '/swapped', ReadOnly: true },
  ]
  const pinned = pinMounts(mounts, new Map())
  // The window the runner cannot close by itself, unstaged: Docker resolves the name at start.
  swapForSymlink(swapped, elsewhere)
  let container: Dockerode.Container | undefined
  try {
    const started = await startSleeper(docker, mounts, 'path-pins')
    container = started.container
    const pid = started.pid
    const check = checkMounts(pid, pinned)
    expect(check).toMatchObject({ ok: false, changed: { target: '/swapped' } })
    // The control: the untouched mount alone passes.
    expect(checkMounts(pid, pinned.filter((m) => m.target === '/kept'))).toEqual({ ok: true })
  } finally {
    await container?.remove({ force: true }).catch(() => undefined)
    releaseMounts(pinned) // the staging mounts pinMounts made
  }
}, 90_000)

test('a bunfig.toml preload in the plugin directory runs nothing before the invocation', async () => {
  const dir = join(srv, 'preload')
  mkdirSync(dir); chmodSync(dir, 0o755)
  writeFileSync(join(dir, 'plugin.yaml'), 'namespace: hostile\nname: preload\nversion: 1.0.0\nruntime: bun\nentry: index.ts\nrunner: docker\nactions:\n  - name: go\n')
  writeFileSync(join(dir, 'index.ts'), 'export default { actions: { go: async () => ({ ran: true }) } }\n')
  writeFileSync(join(dir, 'bunfig.toml'), 'preload = ["./pre.ts"]\n')
  writeFileSync(join(dir, 'pre.ts'), 'console.log("PRELOAD-RAN-BEFORE-THE-CHECK")\n')
  const plugin = loadManifest(dir)
  const { req, logs } = request(plugin, 'go')
  const out = await createDockerRunner({ docker, limits }).run(req)
  expect(out).toMatchObject({ ok: true, output: { ran: true } })
  expect(logs.map((l) => l.message).join('\n')).not.toContain('PRELOAD-RAN')
}, 90_000)

test('a grant path whose parent became a symlink after the check is refused before any container', async () => {
  const x = join(srv, 'x'), y = join(srv, 'y')
  mkdirSync(join(x, 'in'), { recursive: true }); mkdirSync(join(y, 'in'), { recursive: true })
  writeFileSync(join(y, 'in', 'secret.txt'), 'Y-SECRET-d41c')
  for (const d of [x, join(x, 'in'), y, join(y, 'in')]) chmodSync(d, 0o755)
  chmodSync(join(y, 'in', 'secret.txt'), 0o644)
  const dir = join(srv, 'reader')
  mkdirSync(dir); chmodSync(dir, 0o755)
  writeFileSync(join(dir, 'plugin.yaml'), 'namespace: hostile\nname: reader\nversion: 1.0.0\nruntime: bun\nentry: index.ts\nrunner: docker\nactions:\n  - name: read\n')
  writeFileSync(join(dir, 'index.ts'), `import { readFileSync } from 'node:fs'
export default { actions: { read: async (i: { path: string }) => { try { return { content: readFileSync(i.path, 'utf8') } } catch (e) { return { error: String((e as { code?: string }).code) } } } } }
`)
  const plugin = loadManifest(dir)
  // The grant as the task's check handed it over: x/in, canonical then. Then x becomes a symlink to y.
  renameSync(x, `${x}.checked`)
  symlinkSync(y, x)
  const { req } = request(plugin, 'read', { permissions: { filesystem: { read: [join(x, 'in')] } }, input: { path: join(x, 'in', 'secret.txt') } })
  const out = await createDockerRunner({ docker, limits }).run(req)
  expect(JSON.stringify(out)).not.toContain('Y-SECRET')
  expect(out).toMatchObject({ ok: false, error: { code: 'PATH_CHANGED', message: expect.stringContaining('goes through a symbolic link') } })
}, 90_000)
