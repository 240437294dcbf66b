/**
 * Review 11 helper: runs ensureInstalled (the engine's real install path: the jail, the uid drop, ownTree, chmodTree,
 * the rename) with a compromised installer — a Bun script in the staging directory, standing for an installer that
 * does what a manifest or a package makes it do. The jail exists for exactly that installer.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureInstalled } from '../../sandbox/scripts/dependencies.ts'

export const rootEngine = process.getuid?.() === 0

/** A fresh cache root (0755, the engine's). */
export function cacheRoot(tag: string): string {
  const root = mkdtempSync(join(tmpdir(), `ak-review11-${tag}-`))
  chmodSync(root, 0o755)
  return root
}

/** Installs with `script` as the installer (run by `program`, the engine's Bun by default, in the staging directory); the cache entry. */
export function installWith(root: string, script: string, label = 'review11', program = process.execPath, timeoutMs?: number): Promise<string> {
  const key = `r11-${label}-${Date.now()}-${Math.random().toString(36).slice(2)}`
  return ensureInstalled(key, {
    label,
    name: 'evil install',
    prepare: (staging) => {
      writeFileSync(join(staging, 'installer.ts'), script)
      return [program, join(staging, 'installer.ts')]
    },
  }, { root, program, log: () => {}, ...(timeoutMs ? { timeoutMs } : {}) })
}
