/**
 * Review attacks: builds the C probe plugin (test/fixtures/review-probe: probe.c + manifest.yaml, kept off every plugin
 * path because its entry only exists once compiled) into a temp plugin dir.
 */

import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadFixture } from './harness.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'

/** The probe, compiled (cc) into a fresh dir every sandbox uid can read; `remove()` deletes it. */
export function buildProbe(name = 'review-probe'): { plugin: LoadedPlugin; root: string; dir: string; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'ak-review-'))
  chmodSync(root, 0o755)
  const dir = join(root, name)
  const src = join(import.meta.dir, '../fixtures/review-probe')
  Bun.spawnSync(['mkdir', '-m', '755', dir])
  const cc = Bun.spawnSync(['cc', '-O2', '-o', join(dir, 'probe'), join(src, 'probe.c')], { stderr: 'pipe' })
  if (cc.exitCode !== 0) throw new Error(`cc failed: ${cc.stderr.toString()}`)
  copyFileSync(join(src, 'manifest.yaml'), join(dir, 'plugin.yaml'))
  chmodSync(join(dir, 'probe'), 0o755)
  chmodSync(join(dir, 'plugin.yaml'), 0o644)
  return { plugin: loadFixture(dir), root, dir, remove: () => rmSync(root, { recursive: true, force: true }) }
}
