/**
 * Never two live attempts on one uid (finding 2 with issue 11's eye): the uid lease is held by the attempt's launcher,
 * which lives exactly as long as the plugin's pid namespace. So the uid stays taken while the attempt runs even though
 * the engine closed its own copy of the lock, comes back when the attempt ends, and comes back when the worker thread
 * that started the attempt dies (before: the engine's descriptor stayed open in the process, and the uid was lost
 * until the engine restarted). Under both launchers.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdtempSync, rmSync, rmdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readdirSync, readlinkSync } from 'node:fs'
import { UID_DIR, leaseUid } from '../../sandbox/process/uids.ts'
import { LAUNCHERS } from './harness.ts'

const WORKER = join(import.meta.dir, '../fixtures/escape/attack-worker.ts')
// One uid per launcher, from a range of this run's own: leases are host-wide (that is their point), so two test runs
// on one host (CI beside a developer's run) must not lease each other's single uid.
const BASE = 991_300 + (process.pid % 3000) * 2
// The workspaces of the runners whose worker is killed (a crash leaves them, and their empty cgroups, to the next
// engine's sweep): kept in a dir of ours so the test can remove them itself.
const tmpRoot = mkdtempSync(join(tmpdir(), 'ak-lease-'))
chmodSync(tmpRoot, 0o755)
afterAll(() => {
  for (const ws of readdirSync(tmpRoot)) {
    for (const id of readdirSync(join(tmpRoot, ws)).filter((n) => n.startsWith('p'))) {
      for (const c of ['pids', 'memory']) { try { rmdirSync(`/sys/fs/cgroup/${c}/autokestra/${id}`) } catch { /* gone */ } }
    }
  }
  rmSync(tmpRoot, { recursive: true, force: true })
  for (const i of LAUNCHERS.keys()) rmSync(`${UID_DIR}/${BASE + i}`, { force: true }) // this test's own range
})

/** Polls (with a deadline) until a lease on `range` can or cannot be taken. */
async function leasable(range: { start: number; count: number }, want: boolean, ms = 10_000): Promise<boolean> {
  const until = Date.now() + ms
  for (;;) {
    let ok = false
    try { leaseUid(range).release(); ok = true } catch { ok = false }
    if (ok === want || Date.now() > until) return ok
    await Bun.sleep(10)
  }
}

/** Pids other than ours holding the lock file of `uid` open (the attempt's launcher, once it runs). */
function holders(uid: number): number[] {
  const out: number[] = []
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)) {
    let fds: string[] = []
    try { fds = readdirSync(`/proc/${pid}/fd`) } catch { continue }
    if (fds.some((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`) === `${UID_DIR}/${uid}` } catch { return false } })) out.push(Number(pid))
  }
  return out
}

async function until(what: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms
  while (!what()) { if (Date.now() > end) return false; await Bun.sleep(10) }
  return true
}

describe.if(process.getuid?.() === 0)('uid leases follow the attempt, not the engine', () => {
  for (const [i, launcher] of LAUNCHERS.entries()) {
    it(`held while the attempt runs, free after it, and free when its worker thread dies (${launcher} launcher)`, async () => {
      const range = { start: BASE + i, count: 1 }
      const worker = new Worker(WORKER)
      const done = new Promise<unknown>((resolve) => { worker.onmessage = (e) => resolve(e.data) })
      worker.postMessage({ plugin: 'bun-attacks', action: 'loop', opts: { launcher, uidRange: range, timeoutMs: 1500, tmpRoot } })
      // Watched from /proc first: a poll by leasing would itself hold the only uid for an instant, and an attempt
      // leasing in that instant fails SANDBOX_UNAVAILABLE (no free sandbox uid) — the test's race, not the engine's.
      expect(await until(() => holders(range.start).length > 0)).toBe(true) // the attempt's launcher holds it
      expect(await leasable(range, false)).toBe(false) // …so the only uid is taken
      expect(await done).toMatchObject({ ok: false, error: { code: 'TASK_TIMED_OUT' } })
      expect(await leasable(range, true)).toBe(true) // …and gave it back when it ended

      const killed = new Worker(WORKER)
      killed.postMessage({ plugin: 'bun-attacks', action: 'loop', opts: { launcher, uidRange: range, timeoutMs: 60_000, tmpRoot } })
      // Only the launcher holds the lease once the attempt runs (the engine closed its copy).
      expect(await until(() => holders(range.start).length > 0)).toBe(true)
      expect(await leasable(range, false)).toBe(false)
      killed.terminate() // the thread that started the launcher is gone; the engine process lives on
      expect(await leasable(range, true)).toBe(true)
      expect(holders(range.start)).toEqual([])
      worker.terminate()
    }, 30_000)
  }
})
