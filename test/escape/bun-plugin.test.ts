/** Escape suite, Bun plugins under the process runner: every attack is refused by the kernel and reported. */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { API_SECRET, DB_SECRET, ENV_SECRET, KEY_SECRET, denialOf, startEngineFixture, type EngineFixture } from './engine-fixture.ts'
import { loadFixture, runAttack } from './harness.ts'

const plugin = loadFixture('bun-attacks')
let engine: EngineFixture
beforeAll(() => { engine = startEngineFixture() })
afterAll(() => engine.close())

const SECRETS = [DB_SECRET, KEY_SECRET, ENV_SECRET, API_SECRET, 'root:x:0:0']

/** Runs an attack and checks: no secret leaked, the task failed, and the denial names permission and target. */
async function expectDenied(action: string, input: unknown, permission: string, target: string | RegExp) {
  const run = await runAttack(plugin, action, input)
  for (const s of SECRETS) expect(run.text).not.toContain(s)
  expect(run.outcome.ok).toBe(false)
  const d = denialOf(run.outcome)
  expect(d?.permission).toBe(permission as NonNullable<typeof d>['permission'])
  if (typeof target === 'string') expect(d?.target).toBe(target)
  else expect(d?.target).toMatch(target)
  return run
}

describe('escape suite: bun plugin, process runner', () => {
  it('runs under the full set of mechanisms', async () => {
    const run = await expectDenied('read-file', { path: '/etc/passwd' }, 'filesystem.read', '/etc/passwd')
    expect(run.mechanisms).toEqual(expect.arrayContaining(['landlock:fs', 'netns', 'pidns', expect.stringMatching(/^seccomp:unix-socket,setid-bits,/), 'mountns:noexec,nosuid', expect.stringMatching(/^uid:9\d{5}$/), 'env:clean']))
    expect(run.outcome.ok || run.outcome.error.code).toBe('PERMISSION_DENIED')
  })
  it('cannot read the engine SQLite database', () =>
    expectDenied('read-file', { path: engine.dbPath }, 'filesystem.read', engine.dbPath))
  it('cannot read the secret key file, even asynchronously', () =>
    expectDenied('read-file-async', { path: engine.keyPath }, 'filesystem.read', engine.keyPath))
  it('cannot read it through bun:ffi open() either (the kernel refuses)', () =>
    expectDenied('ffi-open', { path: engine.keyPath }, 'filesystem.read', engine.keyPath))
  it('sees only its declared env, and cannot read /proc/<engine>/environ', async () => {
    const run = await expectDenied('read-env', { pid: process.pid }, 'filesystem.read', `/proc/${process.pid}/environ`)
    expect(run.text).not.toContain('AUTOKESTRA_TEST_ENGINE_SECRET')
  })
  it('cannot write outside its temp dir', () =>
    expectDenied('write-file', { path: `${engine.dataDir}/pwned` }, 'filesystem.write', `${engine.dataDir}/pwned`))
  it('cannot connect to the engine API port on 127.0.0.1 (node:net)', () =>
    expectDenied('connect', { host: '127.0.0.1', port: engine.apiPort }, 'network', `127.0.0.1:${engine.apiPort}`))
  it('cannot fetch a host it was not granted', () =>
    expectDenied('fetch', { url: 'http://10.0.0.1:80/' }, 'network', '10.0.0.1:80'))
  it('cannot connect through bun:ffi connect() (the kernel refuses)', () =>
    expectDenied('ffi-connect', { host: '127.0.0.1', port: engine.apiPort }, 'network', `127.0.0.1:${engine.apiPort}`))
  it('cannot start /bin/sh without run', () => expectDenied('spawn', {}, 'run', '/bin/sh'))
  it('is reported even when the plugin swallows the refusal', async () => {
    const run = await expectDenied('spawn-swallowed', {}, 'run', '/bin/sh')
    expect(run.logs.some((l) => l.level === 'ERROR' && l.message.includes('PERMISSION_DENIED run /bin/sh'))).toBe(true)
  })
})

describe('escape suite: a refusal through node:fs is reported when the plugin reaches it late', () => {
  // The guard wraps node:fs only once the plugin may use it (fs-guard.ts). Each fixture's entry names no fs module
  // and swallows the refusal: only the guard's own report can name it.
  const expectReported = async (fixture: string) => {
    const run = await runAttack(loadFixture(fixture), 'read', { path: engine.keyPath })
    expect(run.text).not.toContain(KEY_SECRET)
    expect(denialOf(run.outcome)).toEqual({ permission: 'filesystem.read', target: engine.keyPath })
  }
  it('through a module its entry imports by name when the action runs (found by the scan before the import)', () => expectReported('fs-late-scanned'))
  it('through a module it imports by a computed name (not scanned: guarded when it is resolved)', () => expectReported('fs-late-computed'))
  it('through process.getBuiltinModule', () => expectReported('fs-late-builtin'))
})

describe('escape suite: granted permissions work, and nothing more', () => {
  const grant = () => ({ network: [`127.0.0.1:${engine.apiPort}`], filesystem: { read: [engine.grantedFile] } })
  it('reaches the granted host:port', async () => {
    const run = await runAttack(plugin, 'connect', { host: '127.0.0.1', port: engine.apiPort }, { permissions: grant() })
    expect(run.outcome).toMatchObject({ ok: true, output: { reply: `${API_SECRET}\n` } })
    expect(run.mechanisms).not.toContain('netns')
  })
  it('does not reach another port on the same host, via node:net or bun:ffi', async () => {
    for (const action of ['connect', 'ffi-connect']) {
      const run = await runAttack(plugin, action, { host: '127.0.0.1', port: engine.otherPort }, { permissions: grant() })
      expect(run.text).not.toContain('OTHER-SERVER')
      // bun:ffi is past the guard: the refusal is only the EACCES text the plugin throws, so it is inferred.
      expect(denialOf(run.outcome)).toEqual({ permission: 'network', target: `127.0.0.1:${engine.otherPort}`, ...(action === 'ffi-connect' ? { inferred: true } : {}) })
    }
  })
  it('does not reach another host on the granted port (guard)', async () => {
    const run = await runAttack(plugin, 'connect', { host: '127.0.0.2', port: engine.apiPort }, { permissions: grant() })
    expect(denialOf(run.outcome)).toEqual({ permission: 'network', target: `127.0.0.2:${engine.apiPort}` })
  })
  it('reads a granted file, and still not its neighbours', async () => {
    const ok = await runAttack(plugin, 'read-file', { path: engine.grantedFile }, { permissions: grant() })
    expect(ok.outcome).toMatchObject({ ok: true, output: { content: 'granted content' } })
    const no = await runAttack(plugin, 'read-file', { path: engine.keyPath }, { permissions: grant() })
    expect(no.text).not.toContain(KEY_SECRET)
    expect(denialOf(no.outcome)).toEqual({ permission: 'filesystem.read', target: engine.keyPath })
  })
})
