/**
 * Finding 12 (issue 10): an exec plugin's spare process ran plugin code before any invocation arrived, so one
 * attempt had its side effect twice (and an unused spare had it once). Now a launcher holds an exec plugin before
 * execve until its invocation is on stdin, so the script's first line only ever runs for a real attempt. The
 * fixture's first line appends to a file (and says whether its invocation was already there).
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { prepareLaunch } from '../../sandbox/process/isolation.ts'
import { BOOT_PATH } from '../../sandbox/process/runner.ts'
import { createWorkspace } from '../../sandbox/process/workspace.ts'
import { LAUNCHERS, LIMITS, loadFixture, runAttacks } from './harness.ts'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ak-spare-'))
  chmodSync(dir, 0o777)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const plugin = loadFixture('exec-eager')

for (const launcher of LAUNCHERS) {
  describe(`finding 12: an exec spare runs no plugin code before its invocation (${launcher} launcher)`, () => {
    it('three attempts, two served by spares, one spare left unused: exactly three side effects, all after their input', async () => {
      const effects = join(dir, `effects-${launcher}`)
      const runs = await runAttacks(plugin, [{ action: 'effect' }, { action: 'effect' }, { action: 'effect' }], {
        launcher, env: { EFFECT_FILE: effects }, permissions: { filesystem: { write: [dir] } },
      })
      for (const r of runs) expect(r.outcome).toMatchObject({ ok: true, output: { when: 'with-input' } })
      // The runner is closed (its last spare killed): nothing can add a line any more.
      const lines = existsSync(effects) ? readFileSync(effects, 'utf8').trim().split('\n') : []
      expect(lines.map((l) => l.split(' ')[1])).toEqual(['with-input', 'with-input', 'with-input'])
      expect(new Set(lines.map((l) => l.split(' ')[2])).size).toBe(3)
    })
    it('a spare whose stdin ends without an invocation exits without running anything', async () => {
      const effects = join(dir, `eof-${launcher}`)
      const ws = createWorkspace(dir)
      const { id, tmpDir } = ws.newAttempt()
      const launch = await prepareLaunch({
        plugin, permissions: { filesystem: { write: [dir] } }, tmpDir, startDir: ws.startDir, limits: LIMITS, mode: 'strict',
        env: { EFFECT_FILE: effects, AUTOKESTRA_RESULT_FILE: join(tmpDir, 'r.json'), TMPDIR: tmpDir, HOME: tmpDir }, bootPath: BOOT_PATH, id,
      }, undefined, { launcher })
      const proc = Bun.spawn(launch.argv, { env: launch.env, cwd: launch.cwd, stdio: ['pipe', 'ignore', 'pipe', ...(launch.fds ?? [])] })
      launch.attach(proc.pid)
      await proc.stdin.end()
      expect(await proc.exited).toBe(125)
      await launch.finish()
      ws.remove()
      expect(existsSync(effects)).toBe(false)
    })
  })
}
