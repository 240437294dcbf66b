/**
 * The class behind review2-plugin-dir-swap.test.ts ("a path checked, then used by name later"), with variants the
 * review did not list. Every path a launch grants is pinned (canonical path, device, inode): the plugin directory when
 * the plugin loads, the rest when the launch is prepared; the launchers open each following no symlink and refuse
 * another inode. Under both launchers, with a root engine and the docs' sandbox group on another plugin's data:
 * - the plugin directory replaced by another directory (a rename, no symlink anywhere): another plugin's data dir
 *   renamed into place would be granted read as the plugin's own;
 * - a directory above the plugin directory swapped for a symlink (the plugin directory itself untouched);
 * - a `run` program swapped, after its check, for a symlink to `/`: read + execute on the whole filesystem;
 * each refused PATH_CHANGED before the plugin runs; and, the engine's early check out of the way (the swap made between
 * the prepared launch and its start), the launcher itself refuses a plugin directory swapped for a symlink.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import { prepareLaunch } from '../../sandbox/process/isolation.ts'
import { createWorkspace } from '../../sandbox/process/workspace.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { LAUNCHERS, runAttack } from './harness.ts'

const SECRET = 'PINNED-PATHS-SECRET-41d7'
const GID = 900_000
const SDK = resolve(import.meta.dir, '../../sandbox/sdk/index.ts')
let srv: string
let secretFile: string

const PLUGIN_TS = `import { readFileSync } from 'node:fs'
import { defineAction, definePlugin } from ${JSON.stringify(SDK)}
export default definePlugin({ actions: { read: defineAction<{ path: string }>(({ path }) => {
  try { return { content: readFileSync(path, 'utf8') } } catch (e) { return { error: (e as NodeJS.ErrnoException).code ?? String(e) } }
}) } })
`

/** A world-readable Bun plugin directory at `dir` (parents made 0755), loaded through the real loader. */
function plugin(dir: string, name: string) {
  mkdirSync(dir, { recursive: true })
  for (let d = dir; d.length > srv.length; d = resolve(d, '..')) chmodSync(d, 0o755)
  writeFileSync(join(dir, 'plugin.yaml'), `namespace: hostile\nname: ${name}\nversion: 1.0.0\nruntime: bun\nentry: index.ts\nactions:\n  - name: read\n`)
  writeFileSync(join(dir, 'index.ts'), PLUGIN_TS)
  for (const f of ['plugin.yaml', 'index.ts']) chmodSync(join(dir, f), 0o644)
  return loadManifest(dir)
}

/** Prepares a launch (every pin taken now), lets `swap` change the filesystem, then starts it as the runner does. */
async function launchAfter(launcher: 'native' | 'bun', p: LoadedPlugin, path: string, swap: () => void) {
  const ws = createWorkspace(srv)
  try {
    const { id, tmpDir } = ws.newAttempt()
    const env = { AUTOKESTRA_RESULT_FILE: join(tmpDir, '.result.json'), TMPDIR: tmpDir, HOME: tmpDir }
    const launch = await prepareLaunch({
      plugin: p, permissions: {}, env, tmpDir, startDir: ws.startDir, mode: 'strict', id,
      limits: { memoryMb: 256, cpuSeconds: 5, maxProcesses: 8 }, bootPath: resolve(import.meta.dir, '../../sandbox/sdk/boot.ts'),
    }, undefined, { launcher })
    swap()
    const proc = Bun.spawn(launch.argv, { env: launch.env, cwd: launch.cwd, stdio: ['pipe', 'pipe', 'pipe', ...(launch.fds ?? [])] })
    launch.attach(proc.pid)
    proc.stdin.write(JSON.stringify({ protocol: 1, action: 'read', input: { path }, context: { executionId: 'e', workflowId: 'w', taskId: 't', attempt: 1, source: 's' } }))
    await proc.stdin.end()
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
    await launch.finish()
    const result = await Bun.file(env.AUTOKESTRA_RESULT_FILE).text().catch(() => '')
    return { code, text: out + err + result, err }
  } finally { ws.remove() }
}

describe.if(process.getuid?.() === 0)('every path a launch grants is the one the engine checked', () => {
  beforeAll(() => {
    srv = mkdtempSync(join(tmpdir(), 'ak-path-pins-'))
    chmodSync(srv, 0o755)
    // Another plugin's data, readable for the sandbox group (docs/security.md), with a copy of an entry in it so that a
    // launch granted this directory would start.
    const other = join(srv, 'other-data')
    mkdirSync(other)
    chownSync(other, 0, GID); chmodSync(other, 0o2750)
    secretFile = join(other, 'secret.txt')
    writeFileSync(secretFile, SECRET)
    chownSync(secretFile, 0, GID); chmodSync(secretFile, 0o640)
    writeFileSync(join(other, 'index.ts'), PLUGIN_TS); chmodSync(join(other, 'index.ts'), 0o644)
  })
  afterAll(() => { if (srv) rmSync(srv, { recursive: true, force: true }) })

  for (const launcher of LAUNCHERS) {
    it(`refuses a plugin directory replaced by another directory, no symlink involved (${launcher})`, async () => {
      const dir = join(srv, `plugins-${launcher}`, 'renamed')
      const p = plugin(dir, 'renamed')
      const control = await runAttack(p, 'read', { path: join(dir, 'plugin.yaml') }, { launcher, permissions: {} })
      expect(control.outcome).toMatchObject({ ok: true, output: { content: expect.stringContaining('name: renamed') } })
      const other = join(srv, 'other-data')
      renameSync(dir, `${dir}.loaded`)
      renameSync(other, dir)
      try {
        const after = await runAttack(p, 'read', { path: join(dir, 'secret.txt') }, { launcher, permissions: {} })
        expect(after.text).not.toContain(SECRET)
        expect(after.outcome).toMatchObject({ ok: false, error: { code: 'PATH_CHANGED', message: expect.stringContaining('is another file') } })
      } finally {
        renameSync(dir, other)
        renameSync(`${dir}.loaded`, dir)
      }
    }, 60_000)

    it(`refuses when a directory above the plugin directory became a symlink (${launcher})`, async () => {
      const parent = join(srv, `tree-${launcher}`)
      const p = plugin(join(parent, 'ns', 'up'), 'up')
      // A decoy tree of the same shape, whose `up` is the other plugin's data (moved there: no symlink below the link).
      const decoy = join(srv, `decoy-${launcher}`)
      mkdirSync(decoy); chmodSync(decoy, 0o755)
      renameSync(join(srv, 'other-data'), join(decoy, 'up'))
      renameSync(join(parent, 'ns'), join(parent, 'ns.loaded'))
      symlinkSync(decoy, join(parent, 'ns'))
      try {
        const after = await runAttack(p, 'read', { path: join(parent, 'ns', 'up', 'secret.txt') }, { launcher, permissions: {} })
        expect(after.text).not.toContain(SECRET)
        expect(after.outcome).toMatchObject({ ok: false, error: { code: 'PATH_CHANGED', message: expect.stringContaining('goes through a symbolic link') } })
      } finally {
        rmSync(join(parent, 'ns'))
        renameSync(join(parent, 'ns.loaded'), join(parent, 'ns'))
        renameSync(join(decoy, 'up'), join(srv, 'other-data'))
      }
    }, 60_000)

    it(`refuses a run program swapped for a symlink to / after it was checked (${launcher})`, async () => {
      const p = plugin(join(srv, `runner-${launcher}`, 'tool-user'), 'tool-user')
      const tools = join(srv, `tools-${launcher}`)
      mkdirSync(tools); chmodSync(tools, 0o755)
      const tool = join(tools, 'tool')
      copyFileSync('/usr/bin/true', tool); chmodSync(tool, 0o755)
      const permissions = { run: [tool] }
      const control = await runAttack(p, 'read', { path: secretFile }, { launcher, permissions })
      expect(control.outcome).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' } })
      rmSync(tool)
      symlinkSync('/', tool)
      const after = await runAttack(p, 'read', { path: secretFile }, { launcher, permissions })
      expect(after.text).not.toContain(SECRET)
      expect(after.outcome).toMatchObject({ ok: false, error: { code: 'PATH_CHANGED', message: expect.stringContaining('is a directory') } })
    }, 60_000)

    it(`the launcher refuses a plugin directory swapped for a symlink after the launch was prepared (${launcher})`, async () => {
      const dir = join(srv, `late-${launcher}`, 'late')
      const p = plugin(dir, 'late')
      try {
        const r = await launchAfter(launcher, p, secretFile, () => {
          renameSync(dir, `${dir}.loaded`)
          symlinkSync(srv, dir)
        })
        expect(r.text).not.toContain(SECRET)
        expect({ code: r.code, err: r.err }).toMatchObject({ code: 125, err: expect.stringContaining(`${dir} changed since it was checked: it goes through a symbolic link`) })
      } finally {
        rmSync(dir, { force: true })
        renameSync(`${dir}.loaded`, dir)
      }
    }, 60_000)
  }
})
