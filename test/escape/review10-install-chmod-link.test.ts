/**
 * Review 10, finding "install chmod through a link": after an install, the engine (root) makes the cache entry
 * world-readable (dependencies.ts chmodTree: 0755 directories, 0644 files). It skips a symbolic link itself, but
 * walks with `readdirSync(..., { recursive: true })`, and Bun's recursive readdir descends INTO a symlinked directory:
 * every file and directory under the link's target is chmodded, as root. A project dependency `"x": "link:/etc"`
 * (bun makes node_modules/x a link to any host directory, no package.json needed there) makes /etc/shadow 0644 and
 * /etc/sudoers unusable; `link:/root/.ssh` opens the engine's keys to every local user. Here on a scratch directory:
 * a 0700 directory with a 0600 file.
 *
 * Fixed (dependencies.ts chmodTree): it walks by lstat and never descends a link, and a file with another name (a
 * hard link the installer made) is replaced by its own copy before its chmod (a hard link's chmod is its other name's).
 * That stops the host chmod; what the installer may read or fetch at all is review10-install-host-paths / -url's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runWorkflow, type TestEngine } from '../helpers/engine.ts'
import { installEngine, projectFlow } from './review10-helpers.ts'

let t: TestEngine
let engine: Awaited<ReturnType<typeof installEngine>> | undefined
const host = mkdtempSync(join(tmpdir(), 'ak-review10c-host-'))
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8)

beforeAll(async () => {
  mkdirSync(join(host, 'private'))
  writeFileSync(join(host, 'private', 'key'), 'k')
  chmodSync(join(host, 'private', 'key'), 0o600)
  chmodSync(join(host, 'private'), 0o700)
  engine = await installEngine('c')
  t = engine.t
})
afterAll(async () => {
  await engine?.close()
  rmSync(host, { recursive: true, force: true })
})

describe('review 10: the engine never chmods host files through an installed link', () => {
  it('a link: dependency to a host directory leaves its modes as they were', async () => {
    const files = { 'package.json': JSON.stringify({ name: 'p', version: '1.0.0', dependencies: { x: `link:${host}` } }), 'main.js': 'console.log(1)' }
    await runWorkflow(t, projectFlow('r10-chmod', files))
    expect({ dir: mode(join(host, 'private')), key: mode(join(host, 'private', 'key')) }).toEqual({ dir: '700', key: '600' })
  }, 120_000)
})
