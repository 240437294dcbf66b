/**
 * Finding 15 (issue 10): `ld.so FILE` ran a non-executable ELF from the "never execute" temp dir. Landlock's
 * EXECUTE right is checked by execve, not by the mmap(PROT_EXEC) the loader does, so the kernel never refused.
 * Now the temp dir and every write grant are bind-mounted noexec in the plugin's private mount namespace: mapping
 * a file from them executable fails. An exec plugin copies an ELF with shell builtins only (no chmod: the copy is
 * not executable) and hands it to the loader; so does a Bun plugin allowed to run the loader.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Permissions } from '../../sandbox/manifest.ts'
import { LAUNCHERS, loadFixture, runAttack } from './harness.ts'

const ELF = '/usr/bin/echo'
let writable: string
beforeAll(() => {
  writable = mkdtempSync(join(tmpdir(), 'ak-ldso-'))
  chmodSync(writable, 0o777)
})
afterAll(() => rmSync(writable, { recursive: true, force: true }))

const exec = loadFixture('exec-attacks')

for (const launcher of LAUNCHERS) {
  describe(`finding 15: ld.so cannot run a plugin-written file (${launcher} launcher)`, () => {
    it('the loader itself works on the original (so a refusal below is the mount, not a broken attack)', async () => {
      const run = await runAttack(exec, 'ldso', { path: ELF, dst: 'ORIGINAL' }, { launcher, permissions: { filesystem: { read: [ELF] } } })
      expect(run.outcome).toMatchObject({ ok: true, output: { rc: 0, out: 'LDSO-RAN' } })
    })
    for (const [where, dst, permissions] of [
      ['its temp dir', 'TMP', { filesystem: { read: [ELF] } }],
      ['a declared write dir', 'WRITABLE', { filesystem: { read: [ELF], write: ['WRITABLE'] } }],
    ] as const) {
      it(`from ${where}`, async () => {
        const target = dst === 'TMP' ? 'TMP' : join(writable, `x-${launcher}`)
        const perms = JSON.parse(JSON.stringify(permissions).replace('WRITABLE', writable)) as Permissions
        const run = await runAttack(exec, 'ldso', { path: ELF, dst: target }, { launcher, permissions: perms })
        expect(run.outcome.ok).toBe(true)
        const out = (run.outcome as { output: { rc: number; out: string } }).output
        expect(out.out).not.toContain('LDSO-RAN')
        expect(out.out).toContain('failed to map segment from shared object')
        expect(out.rc).not.toBe(0)
      })
    }
  })
}
