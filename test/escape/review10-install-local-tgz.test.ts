/**
 * Review 10, finding "install local tarball": `install.packages` (and core/script.bun's `dependencies`) accept
 * `name@file:/abs/pkg.tgz`, any absolute host path ending in .tgz (NPM_PIN: `file:\/\S+\.tgz`, `..` included). The
 * engine reads that file as root, outside the sandbox, for the cache key and the installer unpacks it into the shared
 * cache, which the task then reads: a workflow reads any root-only .tgz on the host (a backup, another tenant's
 * package) that no grant of it names and that sandbox.scriptPolicy never allowed. The same for a `/abs/pkg.whl` of
 * core/script.python.
 *
 * Fix: a local package file must lie under a path the task's grant may read (its `filesystem.read`, itself within
 * sandbox.scriptPolicy), or under an operator-configured directory of local packages; refuse it otherwise at
 * validate/apply (SCRIPT_POLICY_EXCEEDED) and again before the install (the engine opens it with O_NOFOLLOW-checked
 * path resolution, as for any granted path), and never `..` in it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runWorkflow, type TestEngine } from '../helpers/engine.ts'
import { installEngine, stdoutOf } from './review10-helpers.ts'

const SECRET = 'ROOT-ONLY-TARBALL-review10-e21b'
let t: TestEngine
let engine: Awaited<ReturnType<typeof installEngine>> | undefined
const host = mkdtempSync(join(tmpdir(), 'ak-review10t-host-'))

beforeAll(async () => {
  mkdirSync(join(host, 'package'))
  writeFileSync(join(host, 'package', 'package.json'), JSON.stringify({ name: 'backup', version: '1.0.0' }))
  writeFileSync(join(host, 'package', 'secret.txt'), SECRET)
  Bun.spawnSync(['tar', 'czf', join(host, 'backup.tgz'), '-C', host, 'package'])
  chmodSync(join(host, 'backup.tgz'), 0o600)
  rmSync(join(host, 'package'), { recursive: true })
  chmodSync(host, 0o700) // root's alone
  engine = await installEngine('t')
  t = engine.t
})
afterAll(async () => {
  await engine?.close()
  rmSync(host, { recursive: true, force: true })
})

describe('review 10: a local package file outside the grant is never installed', () => {
  it('install.packages name@file:/root-only/x.tgz does not reach the task', async () => {
    const r = await runWorkflow(t, `
id: r10-tgz
tasks:
  - id: run
    type: core/script.run
    inputs:
      failOnError: false
      install: { enabled: true, packages: ["backup@file:${host}/backup.tgz"] }
      source:
        type: inline
        language: js
        content: |
          let s = ''; try { s = require('node:fs').readFileSync(require.resolve('backup/secret.txt'), 'utf8') } catch (e) { s = 'unread ' + e.code } console.log('GOT ' + s)
`)
    expect(stdoutOf(r)).not.toContain(SECRET)
    expect(r.runs.run!.state).toBe('FAILED')
  }, 120_000)
})
