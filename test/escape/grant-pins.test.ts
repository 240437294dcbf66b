/**
 * The class behind review-grant-toctou.test.ts ("a path checked at one time, opened at another"), with variants the
 * review did not list. Each grant path is pinned (device, inode) when the attempt is taken; the launcher opens it
 * following no symlink and refuses to start when it is not what was pinned. Under both launchers:
 * - the window between the pin and the launcher made deterministic: a grant path swapped for a symlink to another
 *   plugin's dir (the review's swap, without a race), a symlink swapped in one component higher, and the directory
 *   replaced by another one (no symlink at all): the launcher refuses, the plugin never runs;
 * - a spare launched before a grant directory was replaced serves no later attempt: that one gets a fresh process
 *   whose rule is on the directory it was checked against (before: the spare's rule, on the old directory);
 * - the engine side: launchGrant hands the runner canonical paths, judged as they are (a path through a symlink is
 *   granted as its target, which is what the cap was checked against).
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, chownSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { prepareLaunch } from '../../sandbox/process/isolation.ts'
import { createWorkspace } from '../../sandbox/process/workspace.ts'
import { launchGrant } from '../../actors/task/permissions.ts'
import { LAUNCHERS, runAttacks } from './harness.ts'
import { processesOf, UID_DIR } from '../../sandbox/process/uids.ts'
import { buildProbe } from './review-probe.ts'
import type { PluginCall } from '../../runtime/workflow/model.ts'
import { RUNNER_KINDS } from '../../sandbox/runners.ts'

const SECRET = 'PINNED-GRANT-SECRET-5e21'
const GID = 900_000
let probe: ReturnType<typeof buildProbe>
let srv: string
const dirOf = (...p: string[]) => join(srv, ...p)
/** Creates `path` (and its missing parents below srv) as a grant dir of the sandbox group, as the docs recommend. */
function grantDir(path: string): void {
  const rel = path.slice(srv.length + 1).split('/')
  for (let i = 1; i <= rel.length; i++) {
    const d = join(srv, ...rel.slice(0, i))
    try { mkdirSync(d) } catch { continue }
    chownSync(d, 0, GID)
    chmodSync(d, 0o2770)
  }
}

beforeAll(() => {
  probe = buildProbe()
  srv = mkdtempSync(join(tmpdir(), 'ak-pins-'))
  chmodSync(srv, 0o755)
  // y: another plugin's data, readable for the sandbox group like every grant the docs recommend.
  grantDir(dirOf('y', 'b'))
  writeFileSync(dirOf('y', 'secret.txt'), SECRET)
  writeFileSync(dirOf('y', 'b', 'secret.txt'), SECRET)
  for (const f of ['y/secret.txt', 'y/b/secret.txt']) { chownSync(dirOf(f), 0, GID); chmodSync(dirOf(f), 0o660) }
})
afterAll(() => {
  probe?.remove()
  if (srv) rmSync(srv, { recursive: true, force: true })
  for (let u = 991_760; u < 991_780; u++) rmSync(`${UID_DIR}/${u}`, { force: true })
})

/** Prepares a launch (pins taken now), lets `swap` change the filesystem, then starts it the way the runner does. */
async function launchAfter(launcher: 'native' | 'bun', grant: { read: string[]; write: string[] }, path: string, swap: () => void) {
  const ws = createWorkspace(srv)
  try {
    const { id, tmpDir } = ws.newAttempt()
    const env = { AUTOKESTRA_RESULT_FILE: join(tmpDir, '.result.json'), TMPDIR: tmpDir, HOME: tmpDir }
    const launch = await prepareLaunch({
      plugin: probe.plugin, permissions: { filesystem: grant }, env, tmpDir, startDir: ws.startDir, mode: 'strict', id,
      limits: { memoryMb: 64, cpuSeconds: 5, maxProcesses: 8 }, bootPath: resolve(import.meta.dir, '../../sandbox/sdk/boot.ts'),
    }, undefined, { launcher })
    swap()
    const p = Bun.spawn(launch.argv, { env: launch.env, cwd: launch.cwd, stdio: ['pipe', 'pipe', 'pipe', ...(launch.fds ?? [])] })
    launch.attach?.(p.pid)
    p.stdin.write(JSON.stringify({ protocol: 1, action: 'readfile', input: { path }, context: { executionId: 'e', workflowId: 'w', taskId: 't', attempt: 1, source: 's' } }))
    await p.stdin.end()
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
    await launch.finish()
    const result = await Bun.file(env.AUTOKESTRA_RESULT_FILE).text().catch(() => '')
    return { code, text: out + err + result, err }
  } finally { ws.remove() }
}

describe.if(process.getuid?.() === 0)('a grant path is what was checked when the launcher applies it', () => {
  for (const launcher of LAUNCHERS) {
    it(`refuses to start when a grant path became a symlink after it was pinned (${launcher})`, async () => {
      const x = dirOf(`x-${launcher}-1`)
      grantDir(join(x, 'in'))
      const r = await launchAfter(launcher, { write: [x], read: [join(x, 'in')] }, dirOf('y', 'secret.txt'), () => {
        rmSync(join(x, 'in'), { recursive: true })
        symlinkSync(dirOf('y'), join(x, 'in'))
      })
      expect(r.text).not.toContain(SECRET)
      expect({ code: r.code, err: r.err }).toMatchObject({ code: 125, err: expect.stringContaining(`grant path ${join(x, 'in')} changed since it was checked: it goes through a symbolic link`) })
    })

    it(`refuses to start when a component above the grant path became a symlink (${launcher})`, async () => {
      const w = dirOf(`w-${launcher}`)
      grantDir(join(w, 'a', 'b'))
      const r = await launchAfter(launcher, { write: [w], read: [join(w, 'a', 'b')] }, join(w, 'a', 'b', 'secret.txt'), () => {
        renameSync(join(w, 'a'), join(w, 'a.old'))
        symlinkSync(dirOf('y'), join(w, 'a')) // w/a/b is now y/b
      })
      expect(r.text).not.toContain(SECRET)
      expect({ code: r.code, err: r.err }).toMatchObject({ code: 125, err: expect.stringContaining('goes through a symbolic link') })
    })

    it(`refuses to start when the grant directory was replaced by another one (${launcher})`, async () => {
      const x = dirOf(`x-${launcher}-2`)
      grantDir(join(x, 'in'))
      const r = await launchAfter(launcher, { write: [x], read: [join(x, 'in')] }, join(x, 'in', 'f'), () => {
        renameSync(join(x, 'in'), join(x, 'in.old'))
        grantDir(join(x, 'in'))
      })
      expect({ code: r.code, err: r.err }).toMatchObject({ code: 125, err: expect.stringContaining('changed since it was checked: it is another file') })
    })

    it(`a spare launched before a grant directory was replaced serves no later attempt (${launcher})`, async () => {
      // World-readable (the test's own uid range has its own group).
      const d = dirOf(`spare-${launcher}`)
      const open = () => { mkdirSync(d); chmodSync(d, 0o755) }
      open()
      let swapped = false
      const uids = { start: launcher === 'native' ? 991_760 : 991_770, count: 4 }
      const runs = await runAttacks(probe.plugin, [{ action: 'echo' }, { action: 'readfile', input: { path: join(d, 'new.txt') } }], {
        launcher, permissions: { filesystem: { read: [d] } }, uidRange: uids,
        // The first attempt's spare is launched while it runs; the directory is replaced before the second one, once
        // that spare waits (an exec spare waits for its invocation as its uid, before execve).
        beforeAttempt: async (i) => {
          if (i !== 1) return
          const end = Date.now() + 10_000
          while (!Array.from({ length: uids.count }, (_, k) => processesOf(uids.start + k)).some((p) => p.length > 0)) {
            if (Date.now() > end) throw new Error('no spare started')
            await Bun.sleep(10)
          }
          swapped = true
          renameSync(d, `${d}.old`)
          open()
          writeFileSync(join(d, 'new.txt'), 'NEW-DIRECTORY')
          chmodSync(join(d, 'new.txt'), 0o644)
        },
      })
      expect(swapped).toBe(true)
      expect(runs[1]!.outcome).toMatchObject({ ok: true, output: { errno: 0, data: 'NEW-DIRECTORY' } })
    })
  }

  it('the engine launches a filesystem grant by its canonical path, judged as it is', () => {
    const real = dirOf('canon')
    grantDir(real)
    symlinkSync(real, dirOf('canon-link'))
    const plugin = { ...probe.plugin, manifest: { ...probe.plugin.manifest, permissions: { filesystem: { read: [dirOf('canon-link')] } } } }
    const task = { id: 't', type: 'hostile/review-probe.readfile' } as PluginCall
    const ctx = { policy: { network: [], filesystem: { read: [real], write: [] }, env: [], run: [] }, bounds: { keep: [], sealed: [], readOnly: [] } }
    expect(launchGrant(plugin, task, RUNNER_KINDS.process, ctx).filesystem).toEqual({ read: [real] })
    // The docker runner too (review 2): it bind-mounts host paths, so it gets them canonical and pinned, not as written.
    expect(launchGrant(plugin, task, RUNNER_KINDS.docker, ctx).filesystem).toEqual({ read: [real] })
  })
})
