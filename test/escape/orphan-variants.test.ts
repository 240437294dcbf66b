/**
 * The class behind review-orphan.test.ts ("a lifetime the plugin controls"), with variants the review did not list.
 * The pid namespace's engine-owned init is the first line (review-orphan.test.ts); these are the lines behind it, each
 * for a case where the namespace is not there or not enough:
 * - a host without pid namespaces (permissive mode): a plugin that cleared its parent-death signal outlives a kill -9
 *   of its engine in its cgroups only, and the next engine's sweep must kill it (it used to skip non-empty cgroups),
 *   while no uid lease is handed out for its uid as long as it runs (the lock is free: its launcher is dead);
 * - a process of a sandbox uid left in the cgroup of the uid's last holder (the record in the lock file): the next
 *   prepareLaunch must not lease that uid (check, don't trust the lock), and kills the orphan;
 * - a crashed worker thread's attempts: the engine that survives it kills what their cgroups hold.
 * Under both launchers where a launcher is involved.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { UID_DIR, leaseUid, processesOf } from '../../sandbox/process/uids.ts'
import { createProcessRunner } from '../../sandbox/process/runner.ts'
import { prepareLaunch } from '../../sandbox/process/isolation.ts'
import { detectCgroups } from '../../sandbox/process/cgroup.ts'
import { sweepWorkerSandboxes } from '../../sandbox/process/worker-sweep.ts'
import { LAUNCHERS, LIMITS, ORPHAN_LINE, untilLine } from './harness.ts'
import { nestedPidNsArgv } from '../helpers/pid-namespace.ts'
import { buildProbe } from './review-probe.ts'

const CHILD = join(import.meta.dir, '../fixtures/escape/orphan-nopidns-engine.ts')
const BASE = 991_720
const probe = buildProbe()
const tmpRoot = mkdtempSync(join(tmpdir(), 'ak-orphan-var-'))
chmodSync(tmpRoot, 0o755)
const CG = '/sys/fs/cgroup'
const made: string[] = []
/** Descriptors of workspace locks this process holds for a test (closed at the end). */
const held: number[] = []

async function until(what: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms
  while (!what()) { if (Date.now() > end) return false; await Bun.sleep(10) }
  return true
}
const kill = (pids: number[]) => { for (const p of pids) { try { process.kill(p, 'SIGKILL') } catch { /* gone */ } } }
/** The live processes whose parent is `pid` (an engine's launchers). */
const childrenOf = (pid: number): number[] => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((d) => {
  try {
    const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === String(pid) ? [Number(d)] : []
  } catch { return [] }
})
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true } catch { return false } }
/** A sleeping process running as `uid`, moved into the v1 cgroups named `id` (made here, as an attempt's would be). */
async function sleeperIn(id: string, uid: number): Promise<number> {
  for (const c of ['memory', 'pids']) { mkdirSync(`${CG}/${c}/autokestra/${id}`, { recursive: true }); made.push(`${CG}/${c}/autokestra/${id}`) }
  const p = Bun.spawn(['setpriv', `--reuid=${uid}`, `--regid=${BASE}`, '--clear-groups', '--', 'sleep', '60'], { stdio: ['ignore', 'ignore', 'ignore'] })
  for (const c of ['memory', 'pids']) writeFileSync(`${CG}/${c}/autokestra/${id}/cgroup.procs`, String(p.pid))
  expect(await until(() => processesOf(uid).includes(p.pid))).toBe(true)
  return p.pid
}

afterAll(() => {
  for (const fd of held) closeSync(fd)
  for (let i = 0; i < 9; i++) { kill(processesOf(BASE + i)); rmSync(`${UID_DIR}/${BASE + i}`, { force: true }) }
  // The lease test's attempts (named by this test, so no engine's sweep takes them if one is left).
  for (const n of [1, 2]) for (const c of ['memory', 'pids']) made.push(`${CG}/${c}/autokestra/p${process.pid}t0-lease${n}`)
  for (const d of made) for (let i = 0; i < 100 && existsSync(d); i++) { try { rmdirSync(d); break } catch { Bun.sleepSync(5) } }
  for (const ws of readdirSync(tmpRoot)) {
    for (const id of readdirSync(join(tmpRoot, ws)).filter((n) => /^[ep]/.test(n))) {
      for (const c of ['pids', 'memory']) { try { rmdirSync(`${CG}/${c}/autokestra/${id}`) } catch { /* gone */ } }
    }
  }
  rmSync(tmpRoot, { recursive: true, force: true })
  probe.remove()
})

describe.if(process.getuid?.() === 0 && detectCgroups().version === 1)('a plugin cannot outlive its engine, even where its pid namespace does not hold it', () => {
  for (const [i, launcher] of LAUNCHERS.entries()) {
    it(`without a pid namespace, the next engine's sweep kills what a dead engine's cgroups hold (${launcher})`, async () => {
      const uid = BASE + i
      const engine = Bun.spawn(['bun', CHILD, probe.dir, launcher, String(uid), tmpRoot], { stdout: 'pipe', stderr: 'ignore' })
      try {
        // The engine prints the plugin's lines: ORPHAN once it cleared its parent-death signal.
        expect(await untilLine(engine.stdout, ORPHAN_LINE)).toMatch(ORPHAN_LINE)
        expect(processesOf(uid).length).toBeGreaterThan(0)
        // The engine's children other than the plugin (the native launcher; the bun launcher became the plugin).
        const launchers = childrenOf(engine.pid).filter((p) => !processesOf(uid).includes(p))
        engine.kill('SIGKILL')
        await engine.exited
        // The launcher is dead (its lock is free), nothing but the cgroup holds the plugin, and it runs on: the case.
        expect(await until(() => !launchers.some(alive), 5_000)).toBe(true)
        expect(processesOf(uid).length).toBeGreaterThan(0)
        const runner = createProcessRunner({ prepareLaunch: (s) => prepareLaunch(s, undefined, { launcher }), limits: LIMITS, mode: 'strict', tmpRoot, spares: 0 })
        await runner.close()
        expect(await until(() => processesOf(uid).length === 0, 3_000)).toBe(true)
        expect(() => leaseUid({ start: uid, count: 1 }).release()).not.toThrow()
      } finally { engine.kill('SIGKILL'); kill(processesOf(uid)) }
    }, 30_000)
  }

  it('does not lease a uid that a process in a task cgroup runs as, when no holder is on record', async () => {
    const uid = BASE + 3
    rmSync(`${UID_DIR}/${uid}`, { force: true }) // first use since boot: no record
    const pid = await sleeperIn('p1t0-0rphan000000', uid)
    expect(() => leaseUid({ start: uid, count: 1 }).release()).toThrow(/no free sandbox uid.*still running after their attempt ended/)
    kill([pid])
    expect(await until(() => processesOf(uid).length === 0, 3_000)).toBe(true)
    expect(() => leaseUid({ start: uid, count: 1 }).release()).not.toThrow()
  })

  it('does not lease a uid whose last holder\'s cgroup still holds a process, and kills that orphan', async () => {
    const uid = BASE + 4
    // A name no engine makes, so no sweep takes this cgroup for a dead engine's: only the lease check can see the orphan.
    const id = 'p1t0-0rphan000001'
    const pid = await sleeperIn(id, uid)
    mkdirSync(UID_DIR, { recursive: true, mode: 0o700 })
    writeFileSync(`${UID_DIR}/${uid}`, id, { mode: 0o600 }) // the record of the uid's last holder
    const dir = resolve(import.meta.dir, '../fixtures/plugins/hostile/exec-attacks')
    const plugin = { ...buildPluginOf(dir) }
    const ws = mkdtempSync(join(tmpRoot, 'spec-'))
    chmodSync(ws, 0o711)
    const spec = (n: number) => {
      const tmpDir = join(ws, `t${n}`)
      mkdirSync(tmpDir, { mode: 0o700 })
      return { plugin, permissions: {}, env: { TMPDIR: tmpDir }, tmpDir, startDir: ws, mode: 'strict' as const, id: `p${process.pid}t0-lease${n}`,
        limits: { memoryMb: 64, cpuSeconds: 5, maxProcesses: 8 }, bootPath: resolve(import.meta.dir, '../../sandbox/sdk/boot.ts') }
    }
    await expect(prepareLaunch(spec(1), undefined, { uidRange: { start: uid, count: 1 } })).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE', message: expect.stringMatching(/still running/) })
    expect(await until(() => !processesOf(uid).includes(pid), 3_000)).toBe(true)
    const launch = await prepareLaunch(spec(2), undefined, { uidRange: { start: uid, count: 1 } })
    expect(launch.mechanisms).toContain(`uid:${uid}`)
    // The new holder, on record (written over the old record at a fixed width, space-padded: uids.ts writeHolder).
    expect(readFileSync(`${UID_DIR}/${uid}`, 'utf8').trimEnd()).toBe(`p${process.pid}t0-lease2`)
    await launch.finish()
  })

  it('does not lease a uid whose last holder\'s cgroup holds a process this engine cannot see (an ancestor pid namespace\'s)', async () => {
    const uid = BASE + 8
    const id = 'e0000000bad01-0rphan000003'
    const pid = await sleeperIn(id, uid)
    mkdirSync(UID_DIR, { recursive: true, mode: 0o700 })
    writeFileSync(`${UID_DIR}/${uid}`, id, { mode: 0o600 })
    // An engine in a nested pid namespace: the orphan is not in its /proc, nor in the cgroup.procs it reads.
    const script = `const { leaseUid } = await import(${JSON.stringify(resolve(import.meta.dir, '../../sandbox/process/uids.ts'))})
      try { leaseUid({ start: ${uid}, count: 1 }).release(); console.log('leased') } catch (e) { console.log(e.code) }`
    const nested = Bun.spawn(nestedPidNsArgv(['bun', '-e', script]), { stdout: 'pipe', stderr: 'inherit' })
    const said = (await new Response(nested.stdout).text()).trim()
    expect({ said, running: processesOf(uid) }).toEqual({ said: 'SANDBOX_UNAVAILABLE', running: [pid] })
    kill([pid])
  })

  it('kills what a crashed worker thread\'s attempts left in their cgroups, removes its workspace, and touches no other thread\'s', async () => {
    // Two runners' workspaces of this engine, as createWorkspace lays them out (each holding its lock read-write, as
    // a crashed thread's descriptor stays open in the process), in worker threads 990 and 991.
    const space = (thread: number, id: string) => {
      const root = join(tmpRoot, `ak-w-t${thread}xx`)
      mkdirSync(join(root, id), { recursive: true })
      writeFileSync(join(root, '.thread'), String(thread))
      held.push(openSync(join(root, '.alive'), 'w+'))
      return root
    }
    const crashedWs = space(990, 'e0000deadbeef-deadbeef0001')
    const otherWs = space(991, 'e0000deadbee2-deadbeef0002')
    await sleeperIn('e0000deadbeef-deadbeef0001', BASE + 5)
    const other = await sleeperIn('e0000deadbee2-deadbeef0002', BASE + 6)
    expect(sweepWorkerSandboxes(990, tmpRoot)).toBe(1)
    expect(await until(() => processesOf(BASE + 5).length === 0, 3_000)).toBe(true)
    expect(existsSync(crashedWs)).toBe(false)
    expect(processesOf(BASE + 6)).toEqual([other])
    expect(existsSync(otherWs)).toBe(true)
    kill([other])
  })

  it('touches no workspace of another engine whose worker has the same thread id, even with this process\'s pid in its name', async () => {
    // Another engine (here: a child process) sharing the temp root, in a pid namespace where its pid is ours, with a
    // runner in its worker thread 990 too: its workspace is not this process's, whatever its name and .thread say.
    const id = 'e00000cafe001-cafecafe0001'
    const root = join(tmpRoot, `ak-p${process.pid}-other1`)
    mkdirSync(join(root, id), { recursive: true })
    writeFileSync(join(root, '.thread'), '990')
    const holder = Bun.spawn(['bun', '-e', `
      const { openSync } = require('node:fs'); const { flock, LOCK } = await import(${JSON.stringify(resolve(import.meta.dir, '../../sandbox/process/launcher/libc.ts'))})
      flock(openSync(${JSON.stringify(join(root, '.alive'))}, 'w+'), LOCK.EX); console.log('held'); setInterval(() => {}, 1 << 30)`], { stdout: 'pipe', stderr: 'inherit' })
    try {
      await untilLine(holder.stdout as ReadableStream<Uint8Array>, /^held$/)
      const pid = await sleeperIn(id, BASE + 7)
      expect(sweepWorkerSandboxes(990, tmpRoot)).toBe(0)
      expect({ workspace: existsSync(root), running: processesOf(BASE + 7) }).toEqual({ workspace: true, running: [pid] })
      kill([pid])
    } finally {
      holder.kill('SIGKILL')
      await holder.exited
    }
  })
})

function buildPluginOf(dir: string) {
  const manifest = { namespace: 'hostile', name: 'exec-attacks', version: '1.0.0', runtime: 'exec' as const, entry: 'attack.sh', actions: [{ name: 'x' }] }
  return { manifest, dir, entryPath: join(dir, 'attack.sh') }
}
