/**
 * Review 10, finding "install host paths": core/script.run installs a project's package.json OUTSIDE the sandbox, as
 * the engine (root), and copies its dependency fields verbatim (project-install.ts installManifest). A dependency spec
 * is not only a registry version: `file:/any/host/dir` (a directory with a package.json) is copied — on one
 * filesystem hard-linked — into the shared cache, and `git+file:///any/host/repo` is cloned there. The cache entry is
 * then made world-readable (chmodTree) and granted read to the task, so the workflow reads host files no grant
 * names; and since a hard link shares the inode, chmodTree's 0644 is applied to the HOST's own file (a 0600 secret
 * becomes world-readable on the host). The same spec reaches the installer from a hostile repository handed over by
 * core/git-source.checkout, or from a lockfile (`resolved: file:…`).
 *
 * Fix: accept only registry specs in every dependency field (and `overrides`/`resolutions`): an exact version or a
 * semver range, or `npm:<name>@<range>`; refuse `file:`, `link:`, `portal:`, `workspace:`, `git…:`, `github:`,
 * `http(s):`, a path (`/`, `./`, `../`, `~`) and `user/repo` shorthands as INVALID_TASK_INPUT before anything is
 * installed; and refuse (or drop) a lockfile that names anything but the registry (or install from the manifest
 * only).
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runWorkflow, type TestEngine } from '../helpers/engine.ts'
import { installEngine, projectFlow, stdoutOf } from './review10-helpers.ts'

const SECRET = 'HOST-SECRET-review10-7f3e2a'
let t: TestEngine
let engine: Awaited<ReturnType<typeof installEngine>> | undefined
// A host directory no grant names: a package.json (as any node project on the host has) and a 0600 secret.
const host = mkdtempSync(join(tmpdir(), 'ak-review10-host-'))
const hostPkg = join(host, 'pkg')
const hostRepo = join(host, 'repo')

beforeAll(async () => {
  mkdirSync(hostPkg)
  writeFileSync(join(hostPkg, 'package.json'), JSON.stringify({ name: 'hostpkg', version: '1.0.0' }))
  writeFileSync(join(hostPkg, 'secret.txt'), SECRET, { mode: 0o600 })
  chmodSync(join(hostPkg, 'secret.txt'), 0o600)
  mkdirSync(hostRepo)
  writeFileSync(join(hostRepo, 'package.json'), JSON.stringify({ name: 'hostrepo', version: '1.0.0' }))
  writeFileSync(join(hostRepo, 'secret.txt'), SECRET)
  const git = (...a: string[]) => Bun.spawnSync(['git', '-C', hostRepo, '-c', 'user.email=a@b', '-c', 'user.name=a', ...a])
  git('init', '-q'); git('add', '.'); git('commit', '-qm', 'x')
  engine = await installEngine('')
  t = engine.t
})
afterAll(async () => {
  await engine?.close()
  rmSync(host, { recursive: true, force: true })
})

/** The project: a package.json with `deps`, and a main.js printing what it read at `read`. */
const flow = (id: string, deps: Record<string, string>, read: string) => projectFlow(id, {
  'package.json': JSON.stringify({ name: 'p', version: '1.0.0', dependencies: deps }),
  'main.js': `const fs = require('node:fs'); let s = ''; try { s = fs.readFileSync(${JSON.stringify(read)}, 'utf8') } catch (e) { s = 'unread ' + e.code } console.log('GOT ' + s)`,
})

describe('review 10: a project dependency naming a host path is never installed', () => {
  it('file:/host/dir is not copied (nor hard-linked) into the cache, and the host file keeps its mode', async () => {
    const r = await runWorkflow(t, flow('r10-file', { hostpkg: `file:${hostPkg}` }, 'node_modules/hostpkg/secret.txt'))
    // chmodTree on a hard link is a chmod of the host's own inode.
    expect((statSync(join(hostPkg, 'secret.txt')).mode & 0o777).toString(8)).toBe('600')
    expect(stdoutOf(r)).not.toContain(SECRET)
    expect(r.runs.run!.state).toBe('FAILED')
  }, 120_000)

  it('git+file:///host/repo is not cloned into the cache', async () => {
    const r = await runWorkflow(t, flow('r10-git', { hostrepo: `git+file://${hostRepo}` }, 'node_modules/hostrepo/secret.txt'))
    expect(stdoutOf(r)).not.toContain(SECRET)
    expect(r.runs.run!.state).toBe('FAILED')
  }, 120_000)
})
