/**
 * Review 3, item (d), the other side: a spare is taken only after the pin check of a fresh launch, and one whose
 * pins no longer hold is disposed of, not used and not turned into a failure: the attempt launches afresh and gets
 * what that launch checks now. Here a `run` program is upgraded (a new file renamed into place: another inode, still
 * a program) while the spare of attempt 1 waits. Used anyway, the spare would grant the old inode only and the new
 * program's exec would be denied; refused outright, a routine upgrade would fail the task PATH_CHANGED.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { LAUNCHERS, runAttacks } from './harness.ts'

const SDK = resolve(import.meta.dir, '../../sandbox/sdk/index.ts')
let root: string
let tool: string
let plugin: LoadedPlugin

describe('review 3: a spare whose run program was upgraded is replaced by a fresh launch', () => {
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'ak-review3-recheck-')); chmodSync(root, 0o755)
    const dir = join(root, 'p'); mkdirSync(dir); chmodSync(dir, 0o755)
    const bin = join(root, 'bin'); mkdirSync(bin); chmodSync(bin, 0o755)
    tool = join(bin, 'tool')
    writeFileSync(join(dir, 'plugin.yaml'), 'namespace: hostile\nname: spare-recheck\nversion: 1.0.0\nruntime: bun\nentry: index.ts\nactions:\n  - name: run\n')
    writeFileSync(join(dir, 'index.ts'), `import { defineAction, definePlugin } from ${JSON.stringify(SDK)}
export default definePlugin({ actions: { run: defineAction<Record<string, never>>(() => {
  try { return { code: Bun.spawnSync([${JSON.stringify(tool)}]).exitCode } } catch (e) { return { error: String(e) } }
}) } })
`)
    plugin = loadManifest(dir)
  })
  afterAll(() => { if (root) rmSync(root, { recursive: true, force: true }) })

  for (const launcher of LAUNCHERS) {
    it(`the attempt after the upgrade runs the new program (${launcher})`, async () => {
      copyFileSync('/bin/true', tool); chmodSync(tool, 0o755)
      const runs = await runAttacks(plugin, [{ action: 'run' }, { action: 'run' }], {
        launcher, permissions: { run: [tool] },
        // Between the attempts, with the spare of attempt 1 waiting: the program replaced by another one.
        beforeAttempt: (i) => {
          if (i !== 1) return
          copyFileSync('/bin/false', `${tool}.new`); chmodSync(`${tool}.new`, 0o755)
          renameSync(`${tool}.new`, tool)
        },
      })
      expect(runs[0]!.outcome).toMatchObject({ ok: true, output: { code: 0 } })
      expect(runs[1]!.outcome).toMatchObject({ ok: true, output: { code: 1 } })
    }, 60_000)
  }
})
