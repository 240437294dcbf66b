/**
 * Review 2 attack, class "a path checked then opened" (the plugin directory, docker runner): the docker runner
 * bind-mounts the plugin's directory read-only at /plugin by the name it was loaded under, and Docker resolves that
 * name on the host, following symlinks, when each container starts. Whoever controls the plugin's directory (its
 * author, who installed it in a directory they own) replaces it after the engine loaded and checked the plugin with a
 * symlink to any directory above it (or `/`): every later container gets that whole tree at /plugin, beyond the
 * manifest, the grant and the operator's policy (as uid 65534: world-readable files, which on a host are many).
 * test/escape/review2-plugin-dir-swap.test.ts shows the same for the process runner.
 *
 * Here: a docker plugin is loaded (loadManifest: the real checks) and run through the real docker runner; a file
 * beside its directory is out of reach; its directory is then swapped for a symlink to its grandparent.
 *
 * Recommended fix: resolve the plugin directory (realpath) when the plugin loads, pin its (dev, inode), mount that
 * canonical path, and check the pin again when each attempt starts (refuse on a change); refuse a plugin directory
 * that a user other than the engine's can write.
 */

import { afterAll, beforeAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createDockerRunner } from '../../sandbox/docker/runner.ts'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { dockerReachable, mustRunDocker, request } from './helpers.ts'

const docker = new Dockerode()
const test = (await dockerReachable(docker)) || mustRunDocker ? it : it.skip
const SECRET = 'BESIDE-THE-PLUGIN-0b7e'
const limits = { memoryMb: 128, cpuSeconds: 30, maxProcesses: 16, maxOutputBytes: 1 << 20 }
let srv: string
let pluginDir: string
let plugin: LoadedPlugin

const PLUGIN_TS = `import { readFileSync } from 'node:fs'
export default { actions: { read: async (i: { path: string }) => {
  try { return { content: readFileSync(i.path, 'utf8') } } catch (e) { return { error: String((e as { code?: string }).code) } }
} } }
`

beforeAll(() => {
  // Not under /tmp (the container's /tmp is its own tmpfs).
  srv = mkdtempSync('/var/tmp/ak-review2-dpdir-')
  chmodSync(srv, 0o755)
  mkdirSync(join(srv, 'other')); chmodSync(join(srv, 'other'), 0o755)
  writeFileSync(join(srv, 'other', 'secret.txt'), SECRET); chmodSync(join(srv, 'other', 'secret.txt'), 0o644)
  pluginDir = join(srv, 'plugins', 'evil')
  mkdirSync(pluginDir, { recursive: true })
  chmodSync(join(srv, 'plugins'), 0o755); chmodSync(pluginDir, 0o755)
  writeFileSync(join(pluginDir, 'plugin.yaml'), 'namespace: hostile\nname: ddir-swap\nversion: 1.0.0\nruntime: bun\nentry: index.ts\nrunner: docker\nactions:\n  - name: read\n')
  writeFileSync(join(pluginDir, 'index.ts'), PLUGIN_TS)
  writeFileSync(join(srv, 'index.ts'), PLUGIN_TS) // where the swapped directory will point, so the plugin still starts
  plugin = loadManifest(pluginDir)
})
afterAll(() => { if (srv) rmSync(srv, { recursive: true, force: true }) })

test('a plugin directory swapped for a symlink after load is not what the container gets at /plugin', async () => {
  const runner = createDockerRunner({ docker, limits })
  const control = await runner.run(request(plugin, 'read', { input: { path: '/plugin/other/secret.txt' } }).req)
  expect(control).toMatchObject({ ok: true, output: { error: 'ENOENT' } })
  renameSync(pluginDir, `${pluginDir}.loaded`)
  symlinkSync(srv, pluginDir)
  try {
    const after = await runner.run(request(plugin, 'read', { input: { path: '/plugin/other/secret.txt' } }).req)
    expect(JSON.stringify(after)).not.toContain(SECRET)
  } finally {
    rmSync(pluginDir)
    renameSync(`${pluginDir}.loaded`, pluginDir)
  }
}, 90_000)
