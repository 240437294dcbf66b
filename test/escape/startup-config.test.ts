/**
 * Finding 1 (issue 10): nothing the plugin controls is read before it is confined. A plugin directory holds every
 * file Bun or a shell reads at start-up (bunfig.toml with a preload, .env files, tsconfig/jsconfig paths,
 * package.json, node_modules shadowing what the engine imports, .bashrc/.profile, .npmrc). Before the fix, the
 * launcher (root) and the plugin's Bun started in that directory: the preload ran as root, before Landlock, the
 * uid drop and the cgroups. Each hook writes a marker file and prints a line; neither may ever appear, under
 * both launchers, for bun and exec plugins, for the first attempt and for the spare that serves the second.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LAUNCHERS, loadFixture, runAttacks } from './harness.ts'

let root: string
let marks: string

/** A hook: JavaScript that records that it ran (as which uid, in which cgroup) and says so on stdout. */
const jsHook = (name: string): string => `
try { require('node:fs').writeFileSync(${JSON.stringify(marks)} + '/${name}-' + process.pid, 'uid=' + process.getuid() + ' ' + require('node:fs').readFileSync('/proc/self/cgroup', 'utf8')) } catch {}
console.log('HOOK-RAN ${name} uid=' + process.getuid())
`
const shHook = (name: string): string => `echo "HOOK-RAN ${name} uid=$UID"; echo "uid=$UID" > ${marks}/${name}-$$ 2>/dev/null\n`

/** Writes every start-up file Bun or a shell might read into `dir`. */
function plantStartupFiles(dir: string): void {
  const w = (rel: string, text: string): void => { mkdirSync(join(dir, rel, '..'), { recursive: true }); writeFileSync(join(dir, rel), text) }
  w('bunfig.toml', 'preload = ["./hook-bunfig.ts"]\n[run]\npreload = ["./hook-bunfig-run.ts"]\n[test]\npreload = ["./hook-bunfig-test.ts"]\n')
  w('.bunfig.toml', 'preload = ["./hook-home-bunfig.ts"]\n')
  for (const h of ['bunfig', 'bunfig-run', 'bunfig-test', 'home-bunfig', 'env-options', 'tsconfig-paths', 'jsconfig-paths', 'package-imports', 'package-main']) {
    w(`hook-${h}.ts`, jsHook(h))
  }
  for (const f of ['.env', '.env.local', '.env.production', '.env.development', '.env.test']) {
    w(f, `AK_DOTENV_LEAK=${f}\nBUN_OPTIONS=--preload=${dir}/hook-env-options.ts\nNODE_OPTIONS=--require=${dir}/hook-env-options.ts\n`)
  }
  const paths = (h: string) => JSON.stringify({ compilerOptions: { baseUrl: '.', paths: { '*': [`./hook-${h}.ts`], 'node:*': [`./hook-${h}.ts`] } } })
  w('tsconfig.json', paths('tsconfig-paths'))
  w('jsconfig.json', paths('jsconfig-paths'))
  w('package.json', JSON.stringify({
    name: 'hostile', type: 'module', main: './hook-package-main.ts', imports: { '#*': './hook-package-imports.ts' },
    scripts: { preinstall: shHook('npm-preinstall'), start: shHook('npm-start') }, bun: { preload: ['./hook-bunfig.ts'] },
  }))
  // Names the engine's own code imports (the boot, the guards, the launcher) and its dependencies.
  for (const mod of ['yaml', '@sinclair/typebox', 'bun', 'fs', 'path', 'node-fs', 'comlink']) {
    w(`node_modules/${mod}/package.json`, JSON.stringify({ name: mod, main: 'index.js' }))
    w(`node_modules/${mod}/index.js`, jsHook(`node_modules-${mod.replace('/', '_')}`))
  }
  for (const f of ['.bashrc', '.profile', '.bash_profile', '.bash_login', '.zshrc', '.kshrc']) w(f, shHook(f.slice(1)))
  w('.npmrc', 'node-options=--require ./hook-bunfig.ts\n')
}

function makePlugin(runtime: 'bun' | 'exec'): string {
  const dir = join(root, `startup-${runtime}`)
  mkdirSync(dir)
  plantStartupFiles(dir)
  if (runtime === 'bun') {
    writeFileSync(join(dir, 'index.ts'), `export default { actions: { report: async () => ({
      uid: process.getuid(), env: process.env, cwd: process.cwd() }) } }\n`)
  } else {
    writeFileSync(join(dir, 'attack.sh'), `#!/bin/bash
read -r invocation
printf '{"ok":true,"output":{"uid":%s,"cwd":"%s","dotenv":"%s","bashEnv":"%s"}}' "$UID" "$PWD" "\${AK_DOTENV_LEAK:-}" "\${BASH_ENV:-}" > "$AUTOKESTRA_RESULT_FILE"
`, { mode: 0o755 })
  }
  writeFileSync(join(dir, 'plugin.yaml'), `namespace: hostile\nname: startup-${runtime}\nversion: 1.0.0\nruntime: ${runtime}\n` +
    `entry: ${runtime === 'bun' ? 'index.ts' : 'attack.sh'}\nactions:\n  - name: report\n`)
  return dir
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'ak-startup-'))
  chmodSync(root, 0o755)
  marks = join(root, 'marks')
  mkdirSync(marks)
  chmodSync(marks, 0o777)
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('finding 1: no start-up file of the plugin is read before confinement (bunfig preload, .env, tsconfig, node_modules, shell rc)', () => {
  let plugins: Record<'bun' | 'exec', string>
  beforeAll(() => { plugins = { bun: makePlugin('bun'), exec: makePlugin('exec') } })

  for (const launcher of LAUNCHERS) {
    for (const runtime of ['bun', 'exec'] as const) {
      it(`${runtime} plugin, ${launcher} launcher, first attempt and its spare`, async () => {
        // The attempt's own (declared) env names the start-up variables Bun honours: they must not shape its start.
        const env = { BUN_OPTIONS: `--preload=${plugins[runtime]}/hook-env-options.ts`, NODE_PATH: `${plugins[runtime]}/node_modules` }
        const runs = await runAttacks(loadFixture(plugins[runtime]), [{ action: 'report' }, { action: 'report' }], { launcher, env })
        for (const run of runs) {
          expect(run.outcome).toMatchObject({ ok: true })
          expect(run.text).not.toContain('HOOK-RAN')
          const out = (run.outcome as { output: { uid: number; cwd: string; env?: Record<string, string>; dotenv?: string } }).output
          expect(out.uid).not.toBe(0)
          // The plugin works in its temp dir, never in its own directory.
          expect(out.cwd).not.toBe(plugins[runtime])
          if (out.env) {
            expect(Object.keys(out.env).filter((k) => k.startsWith('AK_DOTENV') || k === 'NODE_OPTIONS')).toEqual([])
            // Declared, so the plugin sees it, but only once it runs.
            expect(out.env.BUN_OPTIONS).toBe(env.BUN_OPTIONS)
            expect(out.cwd).toBe(out.env.TMPDIR!)
          } else {
            expect(out.dotenv).toBe('')
          }
        }
        expect(readdirSync(marks)).toEqual([])
      })
    }
  }
})
