/** Both sandbox launchers (native launcher.c, Bun launch.ts) apply the same policy: the same attacks fail the same way. */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { KEY_SECRET, API_SECRET, denialOf, startEngineFixture, type EngineFixture } from './engine-fixture.ts'
import { LIMITS, loadFixture, runAttack } from './harness.ts'

const bun = loadFixture('bun-attacks')
const exec = loadFixture('exec-attacks')
const bomb = loadFixture('fork-bomb')
let engine: EngineFixture
beforeAll(() => { engine = startEngineFixture() })
afterAll(() => engine.close())

const hasCompiler = ['cc', 'gcc', 'clang'].some((c) => Bun.which(c) !== null)

for (const launcher of ['native', 'bun'] as const) {
  describe(`launcher: ${launcher}`, () => {
    it(launcher === 'native' ? 'is the one used whenever a C compiler exists' : 'is used when asked for', async () => {
      const run = await runAttack(exec, 'echo', {}, { launcher })
      expect(run.outcome).toMatchObject({ ok: true, output: { hello: 'exec' } })
      const expected = launcher === 'bun' || !hasCompiler ? 'launcher:bun' : 'launcher:native'
      expect(run.mechanisms).toEqual(expect.arrayContaining([expected, 'landlock:fs', 'netns', 'pidns', expect.stringMatching(/^seccomp:unix-socket,setid-bits,/), 'mountns:noexec,nosuid', 'cgroup:memory,pids', expect.stringMatching(/^uid:9\d{5}$/)]))
    })
    it('refuses a file read (Bun plugin and exec plugin)', async () => {
      // The exec plugin's refusal is the kernel's EACCES in its own stderr text: read from it, so flagged inferred.
      for (const [plugin, action, how] of [[bun, 'read-file', {}], [exec, 'read-passwd', { inferred: true }]] as const) {
        const run = await runAttack(plugin, action, { path: engine.keyPath }, { launcher })
        expect(run.text).not.toContain(KEY_SECRET)
        expect(denialOf(run.outcome)).toEqual({ permission: 'filesystem.read', target: engine.keyPath, ...how })
      }
    })
    it('refuses a connect through node:net and through bun:ffi', async () => {
      // node:net's refusal is the guard's own (sealed); bun:ffi's is the plugin's text of the kernel's errno (inferred).
      for (const [action, how] of [['connect', {}], ['ffi-connect', { inferred: true }]] as const) {
        const run = await runAttack(bun, action, { host: '127.0.0.1', port: engine.apiPort }, { launcher })
        expect(run.text).not.toContain(API_SECRET)
        expect(denialOf(run.outcome)).toEqual({ permission: 'network', target: `127.0.0.1:${engine.apiPort}`, ...how })
      }
    })
    it('refuses a subprocess without run, and allows a declared one', async () => {
      const no = await runAttack(bun, 'spawn', {}, { launcher })
      expect(denialOf(no.outcome)).toEqual({ permission: 'run', target: '/bin/sh' })
      const yes = await runAttack(exec, 'run-binary', {}, { launcher, permissions: { run: ['id'] } })
      expect(yes.outcome).toMatchObject({ ok: true, output: { id: expect.stringMatching(/^uid=9\d{5}\(?\S* gid=900000/) } })
    })
    it('holds the pids and memory limits (the plugin is in its cgroups before its code runs)', async () => {
      const forks = await runAttack(bomb, 'bomb', {}, { launcher })
      expect(forks.outcome).toMatchObject({ ok: false, denial: { permission: 'pids' } })
      const mem = await runAttack(bun, 'alloc', { mb: 4 * LIMITS.memoryMb }, { launcher })
      expect(mem.outcome).toMatchObject({ ok: false, denial: { permission: 'memory', target: `${LIMITS.memoryMb} MB` } })
    })
    it('reaches a granted port', async () => {
      const run = await runAttack(bun, 'connect', { host: '127.0.0.1', port: engine.apiPort }, {
        launcher, permissions: { network: [`127.0.0.1:${engine.apiPort}`] },
      })
      expect(run.outcome).toMatchObject({ ok: true, output: { reply: `${API_SECRET}\n` } })
    })
  })
}
