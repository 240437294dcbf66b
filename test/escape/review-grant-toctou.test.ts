/**
 * Review attack, class "a path checked then opened" / "a check done at one time, used at another": the engine
 * checks a task's grant (canonical paths against sandbox.policy and its bounds) when the task starts, but the
 * launcher opens each granted path for Landlock later, following symlinks (open(O_PATH) in launcher.c, openPath in
 * landlock.ts). Spares make the gap wide: the spare for the *next* attempt is launched while the current one runs,
 * and the next attempt's check then looks at the path again, long after the spare's Landlock rules were fixed.
 *
 * The plugin here is granted write on `x` and read on `x/in` (both within the operator's policy, which allows `x`
 * only). Task 1 replaces `x/in` by a symlink to `y` (another plugin's data dir, group 900000 like every write grant
 * the docs recommend) while its spare is launched, then puts a directory back. Task 2's check sees a directory
 * inside `x` and passes; it runs on the spare, whose Landlock rule is on `y`: it reads y's secret. A fresh process
 * (task 3) gets EACCES for the same read. The race is won most of the time; the test tries a few executions.
 *
 * Recommended fix: the launcher must open grant paths without following symlinks (openat2 RESOLVE_NO_SYMLINKS, or
 * O_PATH|O_NOFOLLOW component by component from the canonical path the engine checked), and the engine should
 * pass the checked (dev, inode) of each path and the launcher refuse a mismatch. A spare must be discarded when
 * its rule paths no longer resolve to the inodes it was launched with (checked when it is taken).
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestEngine, TEST_PLUGINS, workflow, type TestEngine } from '../helpers/engine.ts'
import { buildProbe } from './review-probe.ts'

const SECRET = 'Y-PLUGIN-SECRET-77aa'
const GID = 900_000
let probe: ReturnType<typeof buildProbe>
let srv: string
let t: TestEngine

describe.if(process.getuid?.() === 0)('review: a grant checked at task start is the grant the sandbox applies', () => {
  beforeAll(async () => {
    probe = buildProbe()
    srv = mkdtempSync(join(tmpdir(), 'ak-review-srv-'))
    chmodSync(srv, 0o755)
    const x = join(srv, 'x'), y = join(srv, 'y')
    for (const d of [x, y, join(x, 'in')]) { mkdirSync(d); chownSync(d, 0, GID); chmodSync(d, 0o2770) }
    writeFileSync(join(y, 'secret.txt'), SECRET)
    chownSync(join(y, 'secret.txt'), 0, GID)
    chmodSync(join(y, 'secret.txt'), 0o660)
    const manifest = join(probe.dir, 'plugin.yaml')
    writeFileSync(manifest, `${readFileSync(manifest, 'utf8')}permissions:\n  filesystem:\n    write: [${x}]\n    read: [${x}/in]\n`)
    t = await startTestEngine({
      WORKFLOW_PLUGINS_PATHS: [TEST_PLUGINS, probe.root].join(','),
      // The operator allows x, nothing else: y belongs to another plugin.
      WORKFLOW_SANDBOX_POLICY: JSON.stringify({ filesystem: { read: [x], write: [x] } }),
    })
  })
  afterAll(async () => { await t?.close(); probe?.remove(); if (srv) rmSync(srv, { recursive: true, force: true }) })

  it('a spare launched while a symlink stood in the grant does not read what the grant never allowed', async () => {
    const x = join(srv, 'x'), y = join(srv, 'y')
    const yaml = [
      'id: toctou', 'tasks:',
      '  - id: plant', '    type: hostile/review-probe.symlink-swap', `    inputs: { path: "${x}/in", target: "${y}", ms: "1200" }`,
      '  - id: steal', '    type: hostile/review-probe.readfile', '    needs: plant', `    inputs: { path: "${y}/secret.txt" }`,
      '  - id: control', '    type: hostile/review-probe.readfile', '    needs: steal', `    inputs: { path: "${y}/secret.txt" }`,
    ].join('\n')
    const outcomes: unknown[] = []
    for (let i = 0; i < 6; i++) {
      const ex = await t.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
      await t.engine.waitFor(ex.id)
      const runs = (await t.engine.snapshot(ex.id))!.taskRuns
      outcomes.push(Object.fromEntries(runs.map((r) => [r.taskId, r.output ?? r.error])))
      // The control: a process launched after the swap is refused, so the engine's view of the grant is right.
      expect(runs.find((r) => r.taskId === 'control')).toMatchObject({ state: 'SUCCESS', output: { fd: -1, errno: 13 } })
      if (JSON.stringify(runs).includes(SECRET)) break
    }
    expect(JSON.stringify(outcomes)).not.toContain(SECRET)
  }, 120_000)
})
