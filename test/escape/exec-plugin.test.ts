/** Escape suite, `exec` plugins: a shell script gets the same confinement without any help from Bun. */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { existsSync } from 'node:fs'
import { API_SECRET, KEY_SECRET, denialOf, startEngineFixture, type EngineFixture } from './engine-fixture.ts'
import { loadFixture, runAttack } from './harness.ts'

const plugin = loadFixture('exec-attacks')
let engine: EngineFixture
beforeAll(() => { engine = startEngineFixture() })
afterAll(() => engine.close())

async function expectDenied(action: string, input: unknown, permission: string, target: string) {
  const run = await runAttack(plugin, action, input)
  for (const s of ['root:x:0:0', KEY_SECRET, API_SECRET, 'uid=']) expect(run.text).not.toContain(s)
  expect(run.outcome.ok).toBe(false)
  // A bash plugin's refusal is the kernel's EACCES as its own stderr text: read from it, so flagged inferred.
  expect(denialOf(run.outcome)).toEqual({ permission: permission as never, target, inferred: true })
  return run
}

describe('escape suite: exec plugin (bash script), process runner', () => {
  it('runs its own script under the sandbox', async () => {
    const run = await runAttack(plugin, 'echo')
    expect(run.outcome).toMatchObject({ ok: true, output: { hello: 'exec' } })
    expect(run.mechanisms).toEqual(expect.arrayContaining(['landlock:fs', 'netns', 'pidns', expect.stringMatching(/^seccomp:unix-socket,setid-bits,/), 'mountns:noexec,nosuid', 'cgroup:memory,pids']))
  })
  it('cannot start cat to read /etc/passwd', () => expectDenied('cat-passwd', {}, 'run', '/usr/bin/cat'))
  it('cannot read /etc/passwd with a shell redirection', () =>
    expectDenied('read-passwd', { path: '/etc/passwd' }, 'filesystem.read', '/etc/passwd'))
  it('cannot read the secret key file', () =>
    expectDenied('read-passwd', { path: engine.keyPath }, 'filesystem.read', engine.keyPath))
  it('cannot write outside its temp dir', async () => {
    await expectDenied('write-outside', { path: `${engine.dataDir}/pwned` }, 'filesystem.write', `${engine.dataDir}/pwned`)
    expect(existsSync(`${engine.dataDir}/pwned`)).toBe(false)
  })
  it('cannot run an undeclared binary', () => expectDenied('run-binary', {}, 'run', '/usr/bin/id'))
  it('cannot reach the engine API port through /dev/tcp', () =>
    expectDenied('tcp', { port: String(engine.apiPort) }, 'network', `127.0.0.1:${engine.apiPort}`))
  it('runs a declared binary', async () => {
    const run = await runAttack(plugin, 'run-binary', {}, { permissions: { run: ['id'] } })
    expect(run.outcome).toMatchObject({ ok: true, output: { id: expect.stringMatching(/^uid=9\d{5}\(?\S* gid=900000/) } })
  })
})
