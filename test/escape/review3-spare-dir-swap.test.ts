/**
 * Review 3, the spare's side of "a plugin directory is granted as it was loaded": docs/security.md promises that a
 * plugin directory replaced after load (a symlink, another directory renamed into place) fails the attempt
 * PATH_CHANGED before anything starts. The check (path-pin.ts checkedPluginPaths) runs when a launch is *prepared*;
 * a spare prepared before the swap is taken afterwards without it (its key holds the load-time pin, which a swap does
 * not change). The spare is confined to the loaded inode, so the swapped-in directory is not readable (held: no
 * widening), but the attempt fails as a plugin error (PLUGIN_ERROR "Cannot find module", retryable and the plugin's
 * fault to the operator) instead of PATH_CHANGED, and what it imports is looked up by name in whatever stands there
 * now (a symlink back into the loaded tree runs other code of it than the entry that was checked).
 *
 * Suggested fix: check the directory's pin (pinDrift) when a spare is taken, as the grant pins are compared, and
 * dispose of the spare on drift, failing the attempt PATH_CHANGED; the boot could also import the entry through the
 * launcher's pinned descriptor (/proc/self/fd/N) rather than by name.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { LAUNCHERS, runAttacks } from './harness.ts'

const SDK = resolve(import.meta.dir, '../../sandbox/sdk/index.ts')
const TS = (tag: string) => `import { defineAction, definePlugin } from ${JSON.stringify(SDK)}
export default definePlugin({ actions: { who: defineAction<Record<string, never>>(() => ({ tag: ${JSON.stringify(tag)} })) } })
`
let root: string
let dir: string
let other: string
let plugin: LoadedPlugin

describe('review 3: a spare serves no attempt after its plugin directory was swapped', () => {
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'ak-review3-spare-')); chmodSync(root, 0o755)
    dir = join(root, 'p'); mkdirSync(dir); chmodSync(dir, 0o755)
    writeFileSync(join(dir, 'plugin.yaml'), 'namespace: hostile\nname: spare-swap\nversion: 1.0.0\nruntime: bun\nentry: index.ts\nactions:\n  - name: who\n')
    writeFileSync(join(dir, 'index.ts'), TS('loaded'))
    other = join(root, 'other'); mkdirSync(other); chmodSync(other, 0o755)
    writeFileSync(join(other, 'index.ts'), TS('swapped-in'))
    plugin = loadManifest(dir)
  })
  afterAll(() => { if (root) rmSync(root, { recursive: true, force: true }) })

  for (const launcher of LAUNCHERS) {
    it(`the attempt after the swap fails PATH_CHANGED, spare or not (${launcher})`, async () => {
      const runs = await runAttacks(plugin, [{ action: 'who' }, { action: 'who' }], {
        launcher, permissions: {},
        // Between the attempts, with the spare of attempt 1 waiting: another directory renamed into place.
        beforeAttempt: (i) => { if (i === 1) { renameSync(dir, `${dir}.loaded`); renameSync(other, dir) } },
      })
      renameSync(dir, other); renameSync(`${dir}.loaded`, dir)
      expect(runs[0]!.outcome).toMatchObject({ ok: true, output: { tag: 'loaded' } })
      expect(runs[1]!.outcome).toMatchObject({ ok: false, error: { code: 'PATH_CHANGED' } })
    }, 60_000)
  }
})
