/**
 * cgroup support (issue 10 build item 12). This host runs cgroup v1, so v1 is tested for real and the v2
 * code paths run against a fake cgroupfs in a temp dir (plain files standing in for the kernel's): what
 * is detected, which limits are written where, how the group is killed and its events read. Strict mode
 * refuses to launch when neither v1 nor v2 limits can be applied.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'
import type { LoadedPlugin, Manifest } from '../manifest.ts'
import { createTaskCgroup, detectCgroups, sweepStaleCgroups, type CgroupFs } from './cgroup.ts'
import { startEngineInstance } from './engine-instance.ts'
import { prepareLaunch } from './isolation.ts'
import { POLICY_ENV, type LaunchPolicy } from './launcher/policy.ts'
import { probeSandboxSync, type SandboxProbe } from './probe.ts'

const temp = mkdtempSync(join(tmpdir(), 'ak-fake-cgroupfs-'))
afterAll(() => rmSync(temp, { recursive: true, force: true }))
let n = 0
const OWN = '/system.slice/autokestra.service'

/** A fake cgroup v2 mount: the root, and the engine's own (delegated) cgroup with its interface files. */
function fakeV2(opts: { controllers?: string; procs?: string; self?: string } = {}): CgroupFs & { base: string } {
  const root = join(temp, `v2-${++n}`)
  const base = join(root, OWN)
  mkdirSync(base, { recursive: true })
  writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n')
  writeFileSync(join(base, 'cgroup.controllers'), opts.controllers ?? 'cpu io memory pids\n')
  writeFileSync(join(base, 'cgroup.subtree_control'), '')
  writeFileSync(join(base, 'cgroup.procs'), opts.procs ?? '')
  const selfCgroup = join(root, 'self-cgroup')
  writeFileSync(selfCgroup, opts.self ?? `0::${OWN}\n`)
  return { root, selfCgroup, base }
}
const text = (f: string) => readFileSync(f, 'utf8')

describe('cgroup v2 (fake cgroupfs)', () => {
  it('detects v2, moves the engine into a leaf and enables memory, pids and cpu for its task subtree', () => {
    const fs = fakeV2({ procs: `${process.pid}\n` })
    const s = detectCgroups(fs)
    expect(s).toEqual({ version: 2, root: fs.root, parent: join(fs.base, 'autokestra'), controllers: ['memory', 'pids', 'cpu'] })
    expect(text(join(fs.base, 'engine', 'cgroup.procs'))).toBe(String(process.pid))
    expect(text(join(fs.base, 'cgroup.subtree_control'))).toBe('+memory +pids +cpu')
    expect(text(join(fs.base, 'autokestra', 'cgroup.subtree_control'))).toBe('+memory +pids +cpu')
  })

  it('writes memory.max, memory.swap.max, pids.max and cpu.max into one task cgroup, kills it with cgroup.kill, reads its events', () => {
    const fs = fakeV2()
    const s = detectCgroups(fs)
    const cg = createTaskCgroup('p1-task/1', { memoryMb: 64, maxTasks: 10 }, s)
    const dir = join(fs.base, 'autokestra', 'p1-task_1')
    expect(cg.dirs).toEqual([dir])
    expect(cg.controllers).toEqual(['memory', 'pids', 'cpu'])
    expect(text(join(dir, 'memory.max'))).toBe(String(64 * 1024 * 1024))
    expect(text(join(dir, 'memory.swap.max'))).toBe('0')
    expect(text(join(dir, 'memory.oom.group'))).toBe('1')
    expect(text(join(dir, 'pids.max'))).toBe('10')
    expect(text(join(dir, 'cpu.max'))).toBe('100000 100000')
    expect(cg.events()).toEqual({ oomKilled: false, pidsMaxHit: false })
    cg.killAll()
    expect(text(join(dir, 'cgroup.kill'))).toBe('1')
    writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 1\n')
    writeFileSync(join(dir, 'pids.events'), 'max 3\n')
    expect(cg.events()).toEqual({ oomKilled: true, pidsMaxHit: true })
    // The kernel removes interface files itself; the fake needs them gone before rmdir.
    expect(cg.remove()).toBe(false)
    for (const f of ['memory.max', 'memory.swap.max', 'memory.oom.group', 'pids.max', 'cpu.max', 'cgroup.kill', 'memory.events', 'pids.events']) unlinkSync(join(dir, f))
    expect(cg.remove()).toBe(true)
  })

  it('uses cpu only when offered: memory and pids alone are enough', () => {
    const s = detectCgroups(fakeV2({ controllers: 'memory pids\n' }))
    expect(s).toMatchObject({ version: 2, controllers: ['memory', 'pids'] })
  })

  it('says why not when the engine shares its cgroup with other processes', () => {
    const s = detectCgroups(fakeV2({ procs: `${process.pid}\n1\n` }))
    expect(s).toMatchObject({ version: 0, reason: expect.stringContaining('also holds other processes (1)') })
  })

  it('says why not when the delegated cgroup lacks the memory controller', () => {
    const s = detectCgroups(fakeV2({ controllers: 'cpu pids\n' }))
    expect(s).toMatchObject({ version: 0, reason: expect.stringContaining('memory controller') })
  })

  it('says why not when /proc/self/cgroup names no v2 cgroup', () => {
    const s = detectCgroups(fakeV2({ self: '12:pids:/x\n' }))
    expect(s).toMatchObject({ version: 0, reason: expect.stringContaining('names no v2 cgroup') })
  })

  it('says why not on a host with no cgroup at all', () => {
    const root = join(temp, 'none')
    mkdirSync(root)
    expect(detectCgroups({ root, selfCgroup: join(root, 'nothing') })).toMatchObject({ version: 0, reason: expect.stringContaining('no cgroup v1') })
  })

  it('sweeps the task cgroups of engine instances whose lock is free, and only those', () => {
    const s = detectCgroups(fakeV2())
    if (s.version !== 2) throw new Error('expected v2')
    const locks = mkdtempSync(join(temp, 'engines-'))
    const live = startEngineInstance(locks)
    const dead = startEngineInstance(locks)
    dead.release(true) // as at its death: the lock free, its file still naming this kernel
    const unproven = 'e0123456789ab' // no lock file: an engine we cannot judge (another mount namespace)
    const names = [live.newAttemptId(), dead.newAttemptId(), dead.newAttemptId(), `${unproven}-0123456789ab`,
      // Names this version does not make are never touched: an older engine's (its pid proves nothing), anyone's.
      'p999999999-1', `p${process.pid}-1`, 'other', `e${dead.id}-x`]
    for (const name of names) mkdirSync(join(s.parent, name))
    expect(sweepStaleCgroups(s, locks)).toBe(2)
    expect(names.filter((name) => existsSync(join(s.parent, name)))).toEqual([names[0]!, ...names.slice(3)])
    // The gone instance's lock file went with its last cgroup; the live one's stays.
    expect(readdirSync(locks).sort()).toEqual([`${live.id}.lock`])
    live.release(false)
    expect(readdirSync(locks)).toEqual([])
  })

  it('keeps the lock file of a gone instance whose cgroup cannot be removed, and of one whose cgroups may be elsewhere (v2)', () => {
    const s = detectCgroups(fakeV2())
    if (s.version !== 2) throw new Error('expected v2')
    const locks = mkdtempSync(join(temp, 'engines-'))
    const dead = startEngineInstance(locks)
    const idle = startEngineInstance(locks)
    dead.release(true)
    idle.release(true)
    const busy = join(s.parent, dead.newAttemptId())
    mkdirSync(busy)
    writeFileSync(join(busy, 'cgroup.procs'), '') // a plain file: rmdir fails, as on a cgroup still busy
    expect(sweepStaleCgroups(s, locks)).toBe(0)
    // An idle gone instance's file stays too: on v2 another engine's subtree may hold its cgroups.
    expect(readdirSync(locks).sort()).toEqual([`${dead.id}.lock`, `${idle.id}.lock`].sort())
  })
})

describe('cgroup sweep on v1 (fake hierarchies)', () => {
  it('removes the lock files of gone instances with no cgroup left (the hierarchy is the whole host\'s)', () => {
    const root = join(temp, `v1-${++n}`)
    for (const c of ['memory', 'pids']) mkdirSync(join(root, c, 'autokestra'), { recursive: true })
    const s = { version: 1 as const, root, controllers: ['memory', 'pids'] }
    const locks = mkdtempSync(join(temp, 'engines-'))
    const live = startEngineInstance(locks)
    const idle = startEngineInstance(locks)
    const dead = startEngineInstance(locks)
    idle.release(true)
    dead.release(true)
    const id = dead.newAttemptId()
    for (const c of ['memory', 'pids']) mkdirSync(join(root, c, 'autokestra', id))
    expect(sweepStaleCgroups(s, locks)).toBe(1)
    expect(['memory', 'pids'].map((c) => existsSync(join(root, c, 'autokestra', id)))).toEqual([false, false])
    expect(readdirSync(locks)).toEqual([`${live.id}.lock`])
    live.release(false)
  })
})

describe('cgroup v1 (this host, for real)', () => {
  it('is detected with its memory and pids hierarchies', () => {
    expect(detectCgroups()).toEqual({ version: 1, root: '/sys/fs/cgroup', controllers: ['memory', 'pids'] })
  })
  it('gets the limits written and the cgroups removed', () => {
    const cg = createTaskCgroup(`cgtest-${process.pid}`, { memoryMb: 64, maxTasks: 10 }, detectCgroups())
    expect(text(join(cg.dirs[0]!, 'memory.limit_in_bytes')).trim()).toBe(String(64 * 1024 * 1024))
    expect(text(join(cg.dirs[1]!, 'pids.max')).trim()).toBe('10')
    expect(cg.remove()).toBe(true)
  })
})

describe('strict mode without cgroup limits', () => {
  const dir = resolve(import.meta.dir, '../../test/fixtures/plugins/hostile/exec-attacks')
  const manifest = parse(readFileSync(join(dir, 'plugin.yaml'), 'utf8')) as Manifest
  const plugin: LoadedPlugin = { manifest, dir, entryPath: join(dir, manifest.entry) }
  const spec = (mode: 'strict' | 'permissive') => {
    const tmpDir = mkdtempSync(join(temp, 'task-'))
    return {
      plugin, permissions: {}, env: { TMPDIR: tmpDir }, tmpDir, startDir: tmpDir, mode, id: `cg-${mode}-${process.pid}-${++n}`,
      limits: { memoryMb: 128, cpuSeconds: 5, maxProcesses: 8 }, bootPath: resolve(import.meta.dir, '../sdk/boot.ts'),
    }
  }
  const host = probeSandboxSync()
  const none: SandboxProbe = { ...host, cgroups: [], cgroup: { version: 0, root: '/nowhere', controllers: [], reason: 'no cgroup v1 memory or pids hierarchy and no cgroup v2 at /nowhere' } }

  it('refuses with SANDBOX_UNAVAILABLE naming the missing limits and why', async () => {
    const err = await prepareLaunch(spec('strict'), none).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'SANDBOX_UNAVAILABLE', details: { missing: [expect.stringContaining('cgroup memory and pids limits (no cgroup v1')] } })
    expect(String((err as Error).message)).toContain('sandbox.mode: permissive')
  })
  it('runs without them in permissive mode, and the mechanisms say so', async () => {
    const launch = await prepareLaunch(spec('permissive'), none)
    expect(launch.mechanisms.some((m) => m.startsWith('cgroup'))).toBe(false)
    await launch.finish()
  })
  it('hands the launcher the v2 task cgroup to join, and reports its limits as denials', async () => {
    const fs = fakeV2()
    const launch = await prepareLaunch(spec('strict'), { ...host, cgroups: ['memory', 'pids', 'cpu'], cgroup: detectCgroups(fs) })
    const policy = JSON.parse(launch.env[POLICY_ENV]!) as LaunchPolicy
    expect(policy.cgroups).toHaveLength(1)
    expect(policy.cgroups[0]!.startsWith(join(fs.base, 'autokestra'))).toBe(true)
    expect(launch.mechanisms).toContain('cgroup2:memory,pids,cpu')
    expect(text(join(policy.cgroups[0]!, 'pids.max'))).toBe('8') // an exec plugin: no runtime headroom
    writeFileSync(join(policy.cgroups[0]!, 'memory.events'), 'oom_kill 1\n')
    expect(await launch.finish()).toEqual({ permission: 'memory', target: '128 MB' })
  })
})
