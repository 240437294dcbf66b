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
import { EFFECTS_DIR, runWorkflow, startTestEngine, type TestEngine } from '../helpers/engine.ts'

let t: TestEngine
const cacheDir = mkdtempSync(join(tmpdir(), 'ak-review10c-cache-'))
chmodSync(cacheDir, 0o755)
const host = mkdtempSync(join(tmpdir(), 'ak-review10c-host-'))
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8)

beforeAll(async () => {
  mkdirSync(join(host, 'private'))
  writeFileSync(join(host, 'private', 'key'), 'k')
  chmodSync(join(host, 'private', 'key'), 0o600)
  chmodSync(join(host, 'private'), 0o700)
  t = await startTestEngine({
    WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ filesystem: { read: [EFFECTS_DIR], write: [EFFECTS_DIR] } }),
    WORKFLOW_SANDBOX_SCRIPT_CACHE_DIR: cacheDir,
  })
})
afterAll(async () => {
  await t?.close()
  rmSync(cacheDir, { recursive: true, force: true })
  rmSync(host, { recursive: true, force: true })
})

describe('review 10: the engine never chmods host files through an installed link', () => {
  it('a link: dependency to a host directory leaves its modes as they were', async () => {
    const files = { 'package.json': JSON.stringify({ name: 'p', version: '1.0.0', dependencies: { x: `link:${host}` } }), 'main.js': 'console.log(1)' }
    await runWorkflow(t, `
id: r10-chmod
tasks:
  - id: make
    type: core/script.bun
    inputs: { files: ${JSON.stringify(JSON.stringify(files))} }
    outputFiles: ["*.json", "*.js"]
    script: |
      for (const [name, text] of Object.entries(JSON.parse(inputs.files) as Record<string, string>)) await Bun.write(ctx.tmpDir + '/' + name, text)
  - id: run
    type: core/script.run
    needs: make
    inputFiles: { package.json: "{{ tasks.make.files['package.json'] }}", main.js: "{{ tasks.make.files['main.js'] }}" }
    inputs:
      source: { type: local, path: "." }
      entry: main.js
      failOnError: false
      install: { enabled: true }
`)
    expect({ dir: mode(join(host, 'private')), key: mode(join(host, 'private', 'key')) }).toEqual({ dir: '700', key: '600' })
  }, 120_000)
})
