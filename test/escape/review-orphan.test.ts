/**
 * Review attack, class "a lifetime the plugin controls": the launchers tie the plugin to the engine with a
 * parent-death signal set on the plugin's own process (launcher.c confine_and_exec, launch.ts after the uid drop),
 * and the uid lease lives exactly as long as the launcher. But PR_SET_PDEATHSIG is the plugin's to change: one
 * prctl(PR_SET_PDEATHSIG, 0) and, when the worker thread (or the whole engine, kill -9) dies, the launcher dies,
 * the plugin (pid 1 of its namespace) lives on, its uid is handed to the next attempt while it still runs (two live
 * attempts on one uid, which docs/security.md says never happens), and a new engine's sweep leaves it alone
 * (sweepStaleCgroups only removes empty cgroups). Under both launchers.
 *
 * Recommended fix: the plugin must not be the pid namespace's init. Let the launcher fork an engine-owned init
 * (pid 1, root, outside the plugin's Landlock domain, parent-death signal tied to the launcher) that forks and
 * confines the plugin as pid 2; when init dies the kernel kills the whole namespace, whatever the plugin did to
 * its own attributes. Independently: the stale-cgroup sweep should kill what a dead engine's cgroups still hold
 * (cgroup.procs / cgroup.kill) before removing them, and a crashed worker's attempts' cgroups should be killed
 * by the engine that survives it (ids carry only the engine pid today, not the worker).
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, rmdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { UID_DIR, leaseUid } from '../../sandbox/process/uids.ts'
import { createProcessRunner } from '../../sandbox/process/runner.ts'
import { prepareLaunch } from '../../sandbox/process/isolation.ts'
import { LAUNCHERS, LIMITS, ORPHAN_LINE, untilLine } from './harness.ts'
import { buildProbe } from './review-probe.ts'

const WORKER = join(import.meta.dir, '../fixtures/escape/attack-worker.ts')
const CHILD = join(import.meta.dir, '../fixtures/escape/review-orphan-engine.ts')
const BASE = 991_700
const probe = buildProbe()
const tmpRoot = mkdtempSync(join(tmpdir(), 'ak-review-orphan-'))
chmodSync(tmpRoot, 0o755)

/** Pids of live processes whose real uid is `uid`. */
function byUid(uid: number): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try { return /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1] === String(uid) ? [Number(d)] : [] } catch { return [] }
  })
}
/** The sandbox cgroups (names) a process is in. */
const cgroupsOf = (pid: number): string[] => {
  try { return [...readFileSync(`/proc/${pid}/cgroup`, 'utf8').matchAll(/autokestra\/(p[\w-]+)/g)].map((m) => m[1]!) } catch { return [] }
}
async function until(what: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms
  while (!what()) { if (Date.now() > end) return false; await Bun.sleep(10) }
  return true
}
/** Kills whatever still runs as `uid` (the orphans this test made) and removes their cgroups. */
function reap(uid: number): void {
  for (const pid of byUid(uid)) {
    const groups = cgroupsOf(pid)
    try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    for (const g of groups) for (const c of ['pids', 'memory']) {
      for (let i = 0; i < 100; i++) { try { rmdirSync(`/sys/fs/cgroup/${c}/autokestra/${g}`); break } catch { Bun.sleepSync(5) } }
    }
  }
}

afterAll(() => {
  for (let i = 0; i < 2 * LAUNCHERS.length; i++) { reap(BASE + i); rmSync(`${UID_DIR}/${BASE + i}`, { force: true }) }
  rmSync(tmpRoot, { recursive: true, force: true })
  probe.remove()
})

describe.if(process.getuid?.() === 0)('review: a plugin cannot outlive the engine that started it', () => {
  for (const [i, launcher] of LAUNCHERS.entries()) {
    it(`dies with its worker thread, and its uid is not leased again while it lives (${launcher} launcher)`, async () => {
      const range = { start: BASE + 2 * i, count: 1 }
      const worker = new Worker(WORKER)
      // The plugin's lines come back as they are logged: its ORPHAN line says it cleared its parent-death signal.
      let deadline: ReturnType<typeof setTimeout> | undefined
      const orphaned = new Promise<string>((resolve, reject) => {
        worker.onmessage = (e: MessageEvent<{ log?: string }>) => { if (e.data.log !== undefined && ORPHAN_LINE.test(e.data.log)) resolve(e.data.log) }
        deadline = setTimeout(() => reject(new Error('the plugin never printed its ORPHAN line')), 15_000)
      })
      worker.postMessage({ plugin: probe.dir, action: 'orphan', opts: { launcher, uidRange: range, timeoutMs: 60_000, tmpRoot }, forwardLogs: true })
      try {
        expect(await orphaned.finally(() => clearTimeout(deadline))).toMatch(ORPHAN_LINE)
        expect(byUid(range.start).length).toBeGreaterThan(0)
        worker.terminate()
        // The thread is gone: nothing of the attempt may still run, and the uid comes back only once nothing does.
        const gone = await until(() => byUid(range.start).length === 0, 3_000)
        let reLeased = false
        if (!gone) { try { leaseUid(range).release(); reLeased = true } catch { /* held: fine */ } }
        expect({ alive: byUid(range.start).length, uidLeasedAgainWhileAlive: reLeased }).toEqual({ alive: 0, uidLeasedAgainWhileAlive: false })
      } finally { worker.terminate(); reap(range.start) }
    }, 30_000)

    it(`dies with its engine process (kill -9), and a new engine does not leave it running (${launcher} launcher)`, async () => {
      const uid = BASE + 2 * i + 1
      const engine = Bun.spawn(['bun', CHILD, probe.dir, launcher, String(uid), tmpRoot], { stdout: 'pipe', stderr: 'ignore' })
      try {
        // The engine prints the plugin's lines: ORPHAN once it cleared its parent-death signal.
        expect(await untilLine(engine.stdout, ORPHAN_LINE)).toMatch(ORPHAN_LINE)
        expect(byUid(uid).length).toBeGreaterThan(0)
        engine.kill('SIGKILL')
        await engine.exited
        // A new engine on the host: its runner sweeps what dead engines left.
        const runner = createProcessRunner({ prepareLaunch: (s) => prepareLaunch(s, undefined, { launcher }), limits: LIMITS, mode: 'strict', tmpRoot, spares: 0 })
        await runner.close()
        expect(await until(() => byUid(uid).length === 0, 3_000)).toBe(true)
      } finally { engine.kill('SIGKILL'); reap(uid) }
    }, 30_000)
  }
})
