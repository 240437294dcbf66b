/**
 * Finding 1's class, from a local user's side: Bun looks for `tsconfig.json` (and more) from its working directory
 * upwards, and the workspace lives in /tmp, where anyone can write. A `tsconfig.json` planted above the workspace
 * redirected the imports of the Bun launcher — running as root — to the planter's code (found while hardening;
 * not in the issue). Here the runner's tmpRoot stands in for /tmp and holds every file Bun might pick up on that
 * walk; none may run, under both launchers, for bun and exec plugins, and for an engine that is not root (whose
 * start dir is inside the workspace, so only the Bun flags protect it).
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LAUNCHERS, loadFixture, runAttack } from './harness.ts'

let root: string
const hook = (name: string, marks: string): string =>
  `try { require('node:fs').writeFileSync('${marks}/${name}-' + process.getuid(), 'x') } catch {}\nconsole.log('HOOK-RAN ${name} uid=' + process.getuid())\n`

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'ak-planted-'))
  chmodSync(root, 0o1777) // like /tmp
  const marks = join(root, 'marks')
  mkdirSync(marks)
  chmodSync(marks, 0o777)
  const w = (rel: string, text: string): void => { mkdirSync(join(root, rel, '..'), { recursive: true }); writeFileSync(join(root, rel), text) }
  w('hook.ts', hook('planted', marks))
  w('tsconfig.json', JSON.stringify({ compilerOptions: { baseUrl: '.', paths: { '*': ['./hook.ts'], 'node:*': ['./hook.ts'], 'bun:*': ['./hook.ts'] } } }))
  w('jsconfig.json', JSON.stringify({ compilerOptions: { baseUrl: '.', paths: { '*': ['./hook.ts'] } } }))
  w('package.json', JSON.stringify({ name: 'planted', imports: { '#*': './hook.ts' }, bun: { preload: ['./hook.ts'] } }))
  w('bunfig.toml', 'preload = ["./hook.ts"]\n')
  w('.env', `BUN_OPTIONS=--preload=${root}/hook.ts\n`)
  for (const mod of ['bun', 'fs', 'node-fs', 'yaml']) {
    w(`node_modules/${mod}/package.json`, JSON.stringify({ name: mod, main: 'index.js' }))
    w(`node_modules/${mod}/index.js`, hook(`node_modules-${mod}`, marks))
  }
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('finding 1 (class): files planted above the workspace are never read', () => {
  for (const launcher of LAUNCHERS) {
    for (const [plugin, action] of [['bun-attacks', 'identity'], ['exec-attacks', 'echo']] as const) {
      it(`${plugin}, ${launcher} launcher`, async () => {
        const run = await runAttack(loadFixture(plugin), action, {}, { launcher, tmpRoot: root })
        expect(run.text).not.toContain('HOOK-RAN')
        expect(run.outcome.ok).toBe(true)
        expect(readdirSync(join(root, 'marks'))).toEqual([])
      })
    }
  }
  it.if(process.getuid?.() === 0 && Bun.which('setpriv') !== null)('nor by an engine that is not root (both launchers)', async () => {
    const script = `
      const { loadFixture, runAttack } = await import(${JSON.stringify(join(import.meta.dir, 'harness.ts'))})
      const out = []
      for (const launcher of ['native', 'bun']) for (const [p, a] of [['bun-attacks', 'identity'], ['exec-attacks', 'echo']])
        out.push((await runAttack(loadFixture(p), a, {}, { launcher, tmpRoot: ${JSON.stringify(root)} })).text)
      console.log(JSON.stringify(out))`
    const p = Bun.spawn(['setpriv', '--reuid=12345', '--regid=12345', '--clear-groups', 'bun', '-e', script], {
      cwd: '/', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' }, stdout: 'pipe', stderr: 'pipe',
    })
    const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()])
    expect(await p.exited, err).toBe(0)
    const texts = JSON.parse(out.trim().split('\n').at(-1)!) as string[]
    expect(texts).toHaveLength(4)
    for (const t of texts) expect(t).not.toContain('HOOK-RAN')
    expect(readdirSync(join(root, 'marks'))).toEqual([])
  }, 60_000)
})
