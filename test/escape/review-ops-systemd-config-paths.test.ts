/**
 * Review (ops): the systemd unit's install steps put examples/config.yaml at /etc/autokestra/config.yaml and
 * override only the database path. The example's other paths are relative to the config file: its
 * `secrets.keyFile: ../data/secret.key` becomes /etc/data/secret.key — outside the one writable path of
 * `ProtectSystem=strict` (the master key cannot be created: the service cannot start; an operator who makes
 * /etc/data writable to "fix" it keeps the key apart from the database it must be backed up with), and its
 * plugin paths become /etc/plugins and /etc/autokestra/plugins (no built-in plugins). The real config loader,
 * fed the unit's own Environment= lines, in a temp tree standing for /.
 */
import { expect, it } from 'bun:test'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../runtime/config/index.ts'
import { root, tempDir } from '../server-helpers.ts'

it('the unit with the example config it installs keeps the key in the state dir and the plugins in the checkout', () => {
  const fs = tempDir('ak-review-ops-unit-')
  const at = (p: string) => join(fs, p)
  const unit = readFileSync(join(root, 'deploy/autokestra.service'), 'utf8')
  const env: Record<string, string> = {}
  for (const m of unit.matchAll(/^Environment=([A-Z0-9_]+)=(.*)$/gm)) env[m[1]!] = m[2]!.replace(/(\/(?:etc|var|opt)\/)/g, `${fs}$1`)
  const writable = (/^ReadWritePaths=(.*)$/m.exec(unit)?.[1] ?? '').split(/\s+/).filter(Boolean).map(at)
  const checkout = at('opt/autokestra')
  mkdirSync(at('etc/autokestra'), { recursive: true })
  writeFileSync(at('etc/autokestra/config.yaml'), readFileSync(join(root, 'examples/config.yaml')))
  const config = loadConfig({ file: at('etc/autokestra/config.yaml'), env: { ...env, WORKFLOW_API_KEYS: 'k'.repeat(24) }, cwd: at('var/lib/autokestra') })
  const inside = (p: string, dirs: string[]) => dirs.some((d) => p === d || p.startsWith(`${d}/`))
  expect(inside(config.storage.path, writable)).toBe(true)
  expect([config.secrets.keyFile, inside(config.secrets.keyFile, writable)]).toEqual([config.secrets.keyFile, true])
  for (const p of config.plugins.paths) expect([p, inside(p, [checkout])]).toEqual([p, true])
})
