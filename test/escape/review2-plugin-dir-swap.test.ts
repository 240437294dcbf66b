/**
 * Review 2 attack, class "a path checked then opened" (the plugin directory itself): review finding 6 pinned the
 * filesystem grant paths to their inode, but the other paths a launch grants by name are not pinned. The plugin
 * directory is granted read (Landlock path_beneath), and the launcher opens it by path at every launch, following
 * symlinks. Whoever controls the plugin's directory on the host (its author, who installed it in a directory they
 * own, the very party the manifest review is about) replaces it, after the engine loaded and checked the plugin,
 * with a symlink to a directory above it: every later attempt gets read on that whole tree, beyond its manifest,
 * its grant and the operator's policy. With a root engine, DAC is then all that stands, and the leased uids share
 * the sandbox group (docs/security.md recommends `chgrp 900000` for write grants): another plugin's data is
 * readable. The same holds for an exec plugin's entry (read + execute by name) and `run` executables.
 *
 * With a non-root engine the plugin has the engine's uid, so Landlock is all that keeps it from the engine's own
 * files: the swap hands it the engine's secret key.
 *
 * Here: a Bun plugin is loaded (loadManifest: the real checks), a control read of another plugin's file (group
 * 900000, 0660) is refused; the plugin's directory is then swapped for a symlink to its grandparent, and the same
 * read is tried again, under both launchers; and the same with a non-root engine (a child process under setpriv)
 * and its 0600 key file.
 *
 * Recommended fix: pin the plugin directory, the entry, the Bun binary, the guest folder and every `run` executable
 * as the grant paths are (dev/inode at load, opened with RESOLVE_NO_SYMLINKS in the launcher, refused on mismatch),
 * or resolve them with realpath at load and open that; and refuse a plugin directory another user can write.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { LAUNCHERS, runAttack } from './harness.ts'

const SECRET = 'OTHER-PLUGIN-DATA-5e1f'
const GID = 900_000
const SDK = resolve(import.meta.dir, '../../sandbox/sdk/index.ts')
let srv: string
let pluginDir: string
let plugin: LoadedPlugin
let secretFile: string

const PLUGIN_TS = `import { readFileSync } from 'node:fs'
import { defineAction, definePlugin } from ${JSON.stringify(SDK)}
export default definePlugin({ actions: { read: defineAction<{ path: string }>(({ path }) => {
  try { return { content: readFileSync(path, 'utf8') } } catch (e) { return { error: (e as NodeJS.ErrnoException).code ?? String(e) } }
}) } })
`

describe.if(process.getuid?.() === 0)('review 2: the plugin directory granted is the one the engine loaded', () => {
  beforeAll(() => {
    srv = mkdtempSync(join(tmpdir(), 'ak-review2-pdir-'))
    chmodSync(srv, 0o755)
    // Another plugin's data: group 900000 as the docs recommend for write grants.
    const other = join(srv, 'other-data')
    mkdirSync(other)
    chownSync(other, 0, GID); chmodSync(other, 0o2770)
    secretFile = join(other, 'secret.txt')
    writeFileSync(secretFile, SECRET)
    chownSync(secretFile, 0, GID); chmodSync(secretFile, 0o660)
    pluginDir = join(srv, 'plugins', 'evil')
    mkdirSync(pluginDir, { recursive: true })
    for (const d of [join(srv, 'plugins'), pluginDir]) chmodSync(d, 0o755)
    const manifest = 'namespace: hostile\nname: dir-swap\nversion: 1.0.0\nruntime: bun\nentry: index.ts\nactions:\n  - name: read\n'
    writeFileSync(join(pluginDir, 'plugin.yaml'), manifest)
    writeFileSync(join(pluginDir, 'index.ts'), PLUGIN_TS)
    // The same entry where the swapped directory will point, so the plugin still starts.
    writeFileSync(join(srv, 'index.ts'), PLUGIN_TS)
    for (const f of [join(pluginDir, 'plugin.yaml'), join(pluginDir, 'index.ts'), join(srv, 'index.ts')]) chmodSync(f, 0o644)
    plugin = loadManifest(pluginDir)
  })
  afterAll(() => { if (srv) rmSync(srv, { recursive: true, force: true }) })

  for (const launcher of LAUNCHERS) {
    it(`a directory swapped for a symlink after load does not widen the plugin's read grant (${launcher})`, async () => {
      const control = await runAttack(plugin, 'read', { path: secretFile }, { launcher, permissions: {} })
      // Refused (the guard reports the kernel's EACCES as a denial even though the plugin caught it).
      expect(control.outcome).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' }, denial: { permission: 'filesystem.read', target: secretFile } })
      // The plugin's owner swaps its directory (loaded and checked above) for a symlink to the tree above it.
      renameSync(pluginDir, `${pluginDir}.loaded`)
      symlinkSync(srv, pluginDir)
      try {
        const after = await runAttack(plugin, 'read', { path: secretFile }, { launcher, permissions: {} })
        expect(JSON.stringify(after.outcome)).not.toContain(SECRET)
      } finally {
        rmSync(pluginDir)
        renameSync(`${pluginDir}.loaded`, pluginDir)
      }
    }, 60_000)
  }

  // A non-root engine: the plugin keeps the engine's uid (user namespace), so only Landlock stands between it and
  // the engine's own 0600 files. The engine (a child process as UID) loads the plugin, runs the control, then waits
  // until the plugin's owner has swapped the directory, and runs the same read again.
  const UID = 12_345
  for (const launcher of LAUNCHERS) {
    it.if(Bun.which('setpriv') !== null)(`a non-root engine's plugin does not read the engine's key file after the swap (${launcher})`, async () => {
      const home = join(srv, `engine-home-${launcher}`)
      mkdirSync(home); chownSync(home, UID, UID); chmodSync(home, 0o700)
      const keyFile = join(home, 'secret.key')
      writeFileSync(keyFile, `ENGINE-KEY-${launcher}-77f0`, { mode: 0o600 }); chownSync(keyFile, UID, UID)
      const flag = join(srv, `swapped-${launcher}`)
      const script = `
        const { loadManifest } = await import(${JSON.stringify(resolve(import.meta.dir, '../../sandbox/plugins/registry.ts'))})
        const { runAttack } = await import(${JSON.stringify(join(import.meta.dir, 'harness.ts'))})
        const { existsSync } = await import('node:fs')
        const plugin = loadManifest(${JSON.stringify(pluginDir)})
        const run = async () => (await runAttack(plugin, 'read', { path: ${JSON.stringify(keyFile)} }, { launcher: ${JSON.stringify(launcher)}, mode: 'permissive', permissions: {} })).outcome
        console.log(JSON.stringify({ control: await run() }))
        const end = Date.now() + 20000
        while (!existsSync(${JSON.stringify(flag)}) && Date.now() < end) await Bun.sleep(20)
        console.log(JSON.stringify({ after: await run() }))`
      const p = Bun.spawn(['setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', 'bun', '-e', script], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, TMPDIR: home }, stdout: 'pipe', stderr: 'pipe',
      })
      const lines: Record<string, unknown>[] = []
      const reader = (async () => {
        let buf = ''
        for await (const c of p.stdout) {
          buf += new TextDecoder().decode(c)
          let i
          while ((i = buf.indexOf('\n')) >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 1); try { lines.push(JSON.parse(l)) } catch { /* log */ } }
        }
      })()
      const killer = setTimeout(() => p.kill('SIGKILL'), 45_000)
      try {
        const end = Date.now() + 30_000
        while (!lines.some((l) => 'control' in l) && Date.now() < end && p.exitCode === null) await Bun.sleep(20)
        renameSync(pluginDir, `${pluginDir}.loaded`)
        symlinkSync(srv, pluginDir)
        writeFileSync(flag, '')
        await p.exited
        await reader
      } finally {
        clearTimeout(killer)
        if (existsSync(`${pluginDir}.loaded`)) { rmSync(pluginDir, { force: true }); renameSync(`${pluginDir}.loaded`, pluginDir) }
        rmSync(flag, { force: true })
      }
      const control = lines.find((l) => 'control' in l)?.control
      const after = lines.find((l) => 'after' in l)?.after
      expect(control).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' } })
      expect(after).toBeDefined()
      expect(JSON.stringify(after)).not.toContain('ENGINE-KEY')
    }, 60_000)
  }
})
