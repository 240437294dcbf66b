/**
 * Issue 10, finding 4: grants that mean everything. `run: ["/"]` gave read + execute on the whole filesystem.
 * Through the real engine: every manifest whose grant is unsafe (however spelt) or beyond the operator's
 * policy is listed but unusable, and a task of it fails INVALID_MANIFEST naming the entry — before any plugin
 * process starts, so the engine's database is never read. A task cannot smuggle such a grant in either.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEngine, type Engine } from '../../actors/engine.ts'
import { testConfig, workflow } from '../helpers/engine.ts'
import { sqliteOf } from '../helpers/store.ts'
import { FIXTURES } from './harness.ts'

const DB_LOOT = 'ENGINE-DB-ROW-grants-77e1'
const dir = mkdtempSync(join(tmpdir(), 'ak-grants-'))
const dataDir = join(dir, 'data')
const pluginsRoot = join(dir, 'plugins')
const share = join(dir, 'share')
mkdirSync(dataDir, { recursive: true })
mkdirSync(share)
mkdirSync(join(share, 'real'))
symlinkSync('/', join(dir, 'to-root'))
symlinkSync(join(share, 'real'), join(share, 'link'))

/** A copy of the hostile Bun plugin under another name, with `permissions` as its grant. */
function plugin(name: string, permissions: string): void {
  const d = join(pluginsRoot, name)
  mkdirSync(d, { recursive: true })
  copyFileSync(join(FIXTURES, 'bun-attacks', 'index.ts'), join(d, 'index.ts'))
  writeFileSync(join(d, 'plugin.yaml'), readFileSync(join(FIXTURES, 'bun-attacks', 'plugin.yaml'), 'utf8')
    .replace('namespace: hostile', 'namespace: grants').replace('name: bun-attacks', `name: ${name}`) + `permissions:\n${permissions}\n`)
}

/** Each unsafe grant and the entry its error must name. */
const UNSAFE: [name: string, permissions: string, names: string][] = [
  ['run-root', '  run: ["/"]', 'run / (is a directory, not a program)'],
  ['run-dir', '  run: [/usr/bin]', 'run /usr/bin (is a directory, not a program)'],
  ['run-link', `  run: [${join(dir, 'to-root')}]`, `run ${join(dir, 'to-root')} (is a directory, not a program)`],
  ['run-setuid', '  run: [/usr/bin/su]', 'run /usr/bin/su (is setuid or setgid'],
  ['read-root', '  filesystem: { read: ["/"] }', 'filesystem.read / (would grant the whole filesystem)'],
  ['read-link', `  filesystem: { read: [${join(dir, 'to-root')}] }`, `filesystem.read ${join(dir, 'to-root')} (would grant the whole filesystem)`],
  ['read-parent', `  filesystem: { read: [${dir}] }`, `filesystem.read ${dir} (would expose the engine's data dir`],
  ['read-db', `  filesystem: { read: [${join(dataDir, 'test.db')}] }`, `filesystem.read ${join(dataDir, 'test.db')} (is inside the engine's data dir`],
  ['read-proc', '  filesystem: { read: [/proc/1] }', 'filesystem.read /proc/1 (is inside the process table'],
  ['write-plugins', `  filesystem: { write: [${join(pluginsRoot, 'run-root')}] }`, `filesystem.write ${join(pluginsRoot, 'run-root')} (would let it write into a plugin search path`],
  ['relative', '  filesystem: { read: [.] }', 'filesystem.read . (must be an absolute path)'],
]

/** An exec plugin that runs `id` by name, with the PATH its task gives it. */
function pathPlugin(): void {
  const d = join(pluginsRoot, 'by-name')
  mkdirSync(d, { recursive: true })
  writeFileSync(join(d, 'run.sh'), '#!/bin/sh\nread -r _\nout=$(id -u 2>&1)\nprintf \'{"ok":true,"output":{"out":"%s"}}\' "$out" > "$AUTOKESTRA_RESULT_FILE"\n', { mode: 0o755 })
  writeFileSync(join(d, 'plugin.yaml'), 'namespace: grants\nname: by-name\nversion: 1.0.0\nruntime: exec\nentry: run.sh\nactions:\n  - name: id\n' +
    'permissions:\n  run: [id]\n  env: [PATH]\n')
  const evil = join(dir, 'evil')
  mkdirSync(evil)
  writeFileSync(join(evil, 'id'), '#!/bin/sh\necho EVIL-ID\n', { mode: 0o755 })
  for (const p of [dir, evil]) chmodSync(p, 0o755)
}

let engine: Engine
const warnings: string[] = []

beforeAll(async () => {
  for (const [name, permissions] of UNSAFE) plugin(name, permissions)
  plugin('beyond', '  network: ["127.0.0.1:5432"]')
  plugin('swapped', `  filesystem: { read: [${join(share, 'link')}] }`)
  plugin('narrowable', `  filesystem: { read: [${share}] }`)
  pathPlugin()
  const config = testConfig(dir, {
    WORKFLOW_STORAGE_PATH: join(dataDir, 'test.db'), WORKFLOW_PLUGINS_PATHS: pluginsRoot,
    // The shipped policy, plus reading `share`: what an operator might allow.
    WORKFLOW_SANDBOX_POLICY: JSON.stringify({ filesystem: { read: [share] } }),
  })
  engine = await createEngine({ config, onWarning: (m) => warnings.push(m) })
  sqliteOf(engine.store).db.run('CREATE TABLE IF NOT EXISTS loot (v TEXT)')
  sqliteOf(engine.store).db.run(`INSERT INTO loot VALUES ('${DB_LOOT}')`)
})
afterAll(async () => {
  await engine?.shutdown({ graceMs: 0 })
  rmSync(dir, { recursive: true, force: true })
})

/** Runs one task; returns its run and everything the execution recorded, as text. */
async function runTask(type: string, inputs: Record<string, unknown>, extra = '') {
  const yaml = `id: grants\ntasks:\n  - id: t\n    type: ${type}\n    inputs: ${JSON.stringify(inputs)}\n${extra}`
  const ex = await engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
  await engine.waitFor(ex.id)
  const snap = (await engine.snapshot(ex.id))!
  const logs = (await engine.store.logs.list({ executionId: ex.id, limit: 10_000 })).items
  return { run: snap.taskRuns[0]!, logs, text: JSON.stringify({ snap, logs, audit: await engine.store.audit.forExecution(ex.id) }) }
}

describe('unsafe grants are refused (issue 10, finding 4)', () => {
  for (const [name, , names] of UNSAFE) {
    it(`${name}: the task fails INVALID_MANIFEST naming the entry, and the plugin never starts`, async () => {
      const r = await runTask(`grants/${name}.read-file`, { path: join(dataDir, 'test.db') })
      expect(r.text).not.toContain(DB_LOOT)
      expect(r.run).toMatchObject({ state: 'FAILED', error: { code: 'INVALID_MANIFEST' } })
      expect(r.run.error?.message).toContain(`plugin grants/${name} cannot be used: its manifest grants what no plugin may have: ${names}`)
      expect(r.logs.filter((l) => l.source !== 'engine')).toEqual([])
    })
  }

  it('also under the docker runner (the grant would be a bind mount): refused before any container exists', async () => {
    const r = await runTask('grants/read-root.read-file', { path: '/etc/hostname' }, '    runner: docker\n')
    expect(r.run).toMatchObject({ state: 'FAILED', error: { code: 'INVALID_MANIFEST' } })
    expect(r.run.error?.message).toContain('filesystem.read / (would grant the whole filesystem)')
  })

  it('lists every refused plugin as a problem naming its file and entry', () => {
    const problems = engine.plugins.registry.problems
    for (const [name, , names] of UNSAFE) {
      const p = problems.find((x) => x.file === join(pluginsRoot, name, 'plugin.yaml'))
      expect(p?.message).toContain(names)
      expect(engine.plugins.registry.plugins.get(`grants/${name}`)?.refused?.length).toBeGreaterThan(0)
    }
  })
})

describe('the operator policy caps every manifest (issue 10, finding 4)', () => {
  it('a manifest beyond sandbox.policy is unusable, with an error naming what it asked for', async () => {
    const r = await runTask('grants/beyond.connect', { host: '127.0.0.1', port: 5432 })
    expect(r.run).toMatchObject({ state: 'FAILED', error: { code: 'INVALID_MANIFEST' } })
    expect(r.run.error?.message).toBe('plugin grants/beyond cannot be used: it asks for more than the operator allows (sandbox.policy): ' +
      'network 127.0.0.1:5432 (beyond sandbox.policy.network (allowed: *))')
  })

  it('a task cannot widen its grant past the policy, nor climb out of a granted path', async () => {
    const http = await runTask('core/http.request', { url: 'http://127.0.0.1:5432/' }, '    permissions: { network: ["127.0.0.1:5432"] }\n')
    expect(http.run).toMatchObject({ state: 'FAILED', error: { code: 'INVALID_WORKFLOW' } })
    expect(http.run.error?.message).toContain('task t cannot be granted network 127.0.0.1:5432 (beyond sandbox.policy.network')
    const climb = await runTask('grants/narrowable.read-file', { path: '/etc/passwd' }, `    permissions: { filesystem: { read: ["${share}/../.."] } }\n`)
    expect(climb.run).toMatchObject({ state: 'FAILED', error: { code: 'INVALID_WORKFLOW' } })
    expect(climb.run.error?.message).toContain(`not granted by the manifest: filesystem.read ${share}/../..`)
    expect(climb.text).not.toContain('root:x:0:0')
  })

  it('a granted path that becomes a link to / after start-up is refused when the task starts', async () => {
    const ok = await runTask('grants/swapped.read-file', { path: join(share, 'link', 'nothing') })
    expect(ok.run.error?.code).not.toBe('INVALID_MANIFEST') // usable while the link points inside `share`
    unlinkSync(join(share, 'link'))
    symlinkSync('/', join(share, 'link'))
    const r = await runTask('grants/swapped.read-file', { path: join(share, 'link', 'etc', 'passwd') })
    expect(r.run).toMatchObject({ state: 'FAILED', error: { code: 'INVALID_MANIFEST' } })
    expect(r.run.error?.message).toContain(`filesystem.read ${join(share, 'link')} (would grant the whole filesystem)`)
    expect(r.text).not.toContain('root:x:0:0')
  })

  it('runs the program the grant was checked as, whatever PATH the task gives the plugin', async () => {
    const r = await runTask('grants/by-name.id', {}, `    env: { PATH: "${join(dir, 'evil')}:/usr/bin:/bin" }\n`)
    expect(r.text).not.toContain('EVIL-ID')
    const plain = await runTask('grants/by-name.id', {})
    expect(plain.run).toMatchObject({ state: 'SUCCESS' })
    expect(String((plain.run.output as { out: string }).out)).toMatch(/^\d+$/)
  })

  it('a plugin within the policy keeps working', async () => {
    const r = await runTask('core/log.info', { message: 'still fine' })
    expect(r.run.state).toBe('SUCCESS')
    expect(warnings).toEqual([])
  })
})
