/**
 * Finding 2 (issue 10), "never uid 0": a root engine runs every attempt as its own unprivileged uid, with no
 * capability, no_new_privs and the seccomp filter, whatever the plugin's paths look like. Before the fix a plugin
 * whose directory (or a declared path) was not world-readable kept uid 0. Now such a plugin is refused with an
 * error that says how to fix it. Build item 8: the temp dir is 0700, owned by that uid, in a parent the plugin
 * can neither rename nor write.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FIXTURES, LAUNCHERS, loadFixture, runAttack, runAttacks } from './harness.ts'

interface Identity {
  uid: number; euid: number; groups: number[] | string
  status: Record<string, string> | string
  tmp?: { mode: number; uid: number; gid: number }
  parent?: { mode: number; uid: number }
  renameTmp?: string; plantInParent?: string
  fds?: string[]
}

/** Every field of /proc/self/status the kernel uses to decide what this process may do. */
function expectUnprivileged(id: Identity): void {
  expect(id.uid).not.toBe(0)
  expect(id.euid).toBe(id.uid)
  expect(id.uid).toBeGreaterThanOrEqual(900_000)
  const status = typeof id.status === 'string'
    ? Object.fromEntries(id.status.split(';').filter(Boolean).map((l) => { const [k, ...v] = l.split(':'); return [k!, v.join(':').trim()] }))
    : id.status
  for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(status[cap]).toBe('0000000000000000')
  expect(status.Uid!.split(/\s+/)).toEqual(Array(4).fill(String(id.uid)))
  expect(status.Gid!.split(/\s+/)).toEqual(Array(4).fill('900000'))
  expect(status.Groups).toBe('')
  expect(status.NoNewPrivs).toBe('1')
  expect(status.Seccomp).toBe('2')
}

let root: string
beforeAll(() => { root = mkdtempSync(join(tmpdir(), 'ak-never-root-')); chmodSync(root, 0o711) })
afterAll(() => rmSync(root, { recursive: true, force: true }))

for (const launcher of LAUNCHERS) {
  describe(`finding 2: never uid 0 (${launcher} launcher)`, () => {
    it('a Bun plugin runs as a leased uid without capabilities, in a 0700 temp dir it owns inside a parent it cannot change', async () => {
      const run = await runAttack(loadFixture('bun-attacks'), 'identity', {}, { launcher })
      expect(run.outcome.ok).toBe(true)
      const id = (run.outcome as { output: Identity }).output
      expectUnprivileged(id)
      expect(id.tmp).toMatchObject({ mode: 0o700, uid: id.uid, gid: 900_000 })
      expect(id.parent).toEqual({ mode: 0o711, uid: 0 })
      // No engine descriptor (a uid lease lock, the workspace lock, the database) reached the plugin: a lease lock it
      // held could be unlocked from inside (flock belongs to the shared open file) and its uid handed out twice.
      // A warm process's stdin is /dev/null once its boot took the frames' pipe (sandbox/sdk/frames-fd.ts, review 9).
      expect(id.fds!.filter((f) => f.startsWith('/') && f !== '/dev/null')).toEqual([])
      expect(id.renameTmp).toBe('Permission denied')
      expect(id.plantInParent).toBe('Permission denied')
    })
    it('an exec plugin too, and two attempts (first and spare) get different uids', async () => {
      const runs = await runAttacks(loadFixture('exec-attacks'), [{ action: 'identity' }, { action: 'identity' }], { launcher })
      const ids = runs.map((r) => (r.outcome as { output: Identity }).output)
      for (const id of ids) expectUnprivileged(id)
      expect(ids[0]!.uid).not.toBe(ids[1]!.uid)
    })
    it('a plugin whose directory only root can read is refused, with how to fix it, instead of running as root', async () => {
      const hidden = join(root, `hidden-${launcher}`)
      mkdirSync(hidden, { mode: 0o700 })
      cpSync(join(FIXTURES, 'exec-attacks'), join(hidden, 'exec-attacks'), { recursive: true })
      const run = await runAttack(loadFixture(join(hidden, 'exec-attacks')), 'identity', {}, { launcher })
      expect(run.outcome).toMatchObject({ ok: false, error: { code: 'SANDBOX_UNAVAILABLE' } })
      const message = (run.outcome as { error: { message: string } }).error.message
      expect(message).toContain(`its parent ${hidden} (mode 0700, owner 0:0) is not searchable`)
      expect(message).toContain('chmod o+rX')
      expect(message).toContain('never run as root')
    })
    it('so is a plugin that declares a path only root can read', async () => {
      const secret = join(root, `secret-${launcher}`)
      mkdirSync(secret, { mode: 0o700 })
      writeFileSync(join(secret, 'data'), 'x')
      const run = await runAttack(loadFixture('bun-attacks'), 'identity', {}, { launcher, permissions: { filesystem: { read: [join(secret, 'data')] } } })
      expect(run.outcome).toMatchObject({ ok: false, error: { code: 'SANDBOX_UNAVAILABLE', details: { unreachable: [{ path: join(secret, 'data'), need: 'read' }] } } })
    })
    it('a declared path made reachable for the sandbox group works, and files written there stay usable by the next attempt', async () => {
      const shared = join(root, `shared-${launcher}`)
      mkdirSync(shared)
      Bun.spawnSync(['chgrp', '900000', shared])
      chmodSync(shared, 0o2770) // setgid: files created inside belong to the group
      const file = join(shared, 'out')
      const write = { filesystem: { write: [shared] } }
      const runs = await runAttacks(loadFixture('bun-attacks'), [
        { action: 'write-file', input: { path: file } }, { action: 'write-file', input: { path: file } },
      ], { launcher, permissions: write })
      for (const r of runs) expect(r.outcome).toMatchObject({ ok: true, output: { wrote: file } })
    })
  })
}
