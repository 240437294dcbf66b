/**
 * Finding 3 (issue 10): a plugin set the setuid bit on an ELF in its 0777 temp dir and another local user ran it
 * as euid 0. Closed as a class: the seccomp filter refuses a setuid or setgid bit through every call that sets a
 * mode (chmod, fchmod, fchmodat, fchmodat2, open/creat, mknod); the temp dir is 0700 and owned by the attempt's
 * own uid (so other users cannot reach what is inside); and a setuid file the plugin may run is not honoured
 * (no_new_privs). Under both launchers.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LAUNCHERS, loadFixture, runAttack } from './harness.ts'

let root: string
let suidId: string
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'ak-setuid-'))
  chmodSync(root, 0o755)
  // Made by the engine side, as root: a setuid-root copy of id(1) the plugin is allowed to run.
  suidId = join(root, 'suid-id')
  copyFileSync('/usr/bin/id', suidId)
  chmodSync(suidId, 0o4755)
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

const bun = loadFixture('bun-attacks')
const exec = loadFixture('exec-attacks')

for (const launcher of LAUNCHERS) {
  describe(`finding 3: no setuid or setgid file, and none honoured (${launcher} launcher)`, () => {
    it('every mode-setting call refuses the two bits (raw libc through bun:ffi), and plain modes still work', async () => {
      const run = await runAttack(bun, 'setuid', {}, { launcher })
      expect(run.outcome.ok).toBe(true)
      const out = (run.outcome as { output: Record<string, unknown> & { modes: Record<string, number> } }).output
      for (const call of ['chmod', 'chmodSetgid', 'openCreate', 'fchmod', 'fchmodat', 'fchmodat2', 'mknod']) {
        expect(`${call}: ${String(out[call])}`).toBe(`${call}: Operation not permitted`)
      }
      expect(out.chmodPlain).toBe('ok')
      expect(out.fchmodPlain).toBe('ok')
      for (const mode of Object.values(out.modes)) expect(mode & 0o6000).toBe(0)
    })
    it('fs.chmodSync(04755) fails the task as a denial', async () => {
      const run = await runAttack(bun, 'chmod-setuid', {}, { launcher })
      expect(run.outcome).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' } })
    })
    it('a setuid-root program the plugin may run gives it no privilege', async () => {
      const run = await runAttack(exec, 'run-path', { path: suidId }, { launcher, permissions: { run: [suidId] } })
      expect(run.outcome.ok).toBe(true)
      const out = (run.outcome as { output: { out: string } }).output.out
      expect(out).toMatch(/^uid=9\d{5} gid=900000/)
      expect(out).not.toContain('euid=0')
    })
  })
}
