/**
 * Per-task cgroups: detect what the host offers (cgroup v1 memory + pids hierarchies, or a delegated
 * cgroup v2 subtree), create a task's cgroup with its limits, kill everything inside, read its events,
 * remove it. The cgroupfs root and /proc/self/cgroup are injectable, so the v2 paths can be tested against
 * a fake cgroupfs in a temp dir on a v1 host.
 */

import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { engineDir, forgetInstance, instanceOf, lockedInstances, probeInstance } from './engine-instance.ts'

/** Where the cgroupfs is mounted and where the engine's own v2 cgroup is named (tests point both at temp files). */
export interface CgroupFs {
  root: string
  selfCgroup: string
}
export const DEFAULT_CGROUP_FS: CgroupFs = { root: '/sys/fs/cgroup', selfCgroup: '/proc/self/cgroup' }

const PARENT = 'autokestra'
/** v2 controllers a task cgroup uses; memory and pids are required, cpu is used when offered. */
const V2_WANTED = ['memory', 'pids', 'cpu']
/** What strict mode requires. */
export const REQUIRED_CONTROLLERS = ['memory', 'pids']

/** What this host offers for task limits. `version: 0` says why not. */
export type CgroupSupport =
  | { version: 1; root: string; controllers: string[] }
  | { version: 2; root: string; parent: string; controllers: string[] }
  | { version: 0; root: string; controllers: []; reason: string }

/** The cgroups of one task attempt. */
export interface TaskCgroup {
  /** Directories the launcher joins (their `cgroup.procs`). */
  dirs: string[]
  /** Controllers in force, e.g. ['memory','pids']. */
  controllers: string[]
  /** SIGKILLs every process in the group (v2: `cgroup.kill`). */
  killAll(): void
  /** What the limits observed: an OOM kill, or fork refusals at pids.max. */
  events(): { oomKilled: boolean; pidsMaxHit: boolean }
  /** Removes the directories; true when none is left. */
  remove(): boolean
}

const read = (f: string): string => { try { return readFileSync(f, 'utf8') } catch { return '' } }
const writable = (f: string): boolean => { try { accessSync(f, constants.W_OK); return true } catch { return false } }
const words = (s: string): string[] => s.split(/\s+/).filter(Boolean)

/** Which cgroup version the host runs, and whether the engine may create task cgroups with limits there. */
export function detectCgroups(fs: CgroupFs = DEFAULT_CGROUP_FS): CgroupSupport {
  if (existsSync(join(fs.root, 'cgroup.controllers'))) return detectV2(fs)
  const controllers = availableV1Controllers(fs.root)
  if (controllers.length > 0) return { version: 1, root: fs.root, controllers }
  const why = existsSync(join(fs.root, 'memory')) || existsSync(join(fs.root, 'pids'))
    ? `the cgroup v1 hierarchies under ${fs.root} are not writable (the engine is not root?)`
    : `no cgroup v1 memory or pids hierarchy and no cgroup v2 at ${fs.root}`
  return { version: 0, root: fs.root, controllers: [], reason: why }
}

/** Controllers (memory, pids) whose v1 hierarchy is mounted and writable by us. */
function availableV1Controllers(root: string): string[] {
  return ['memory', 'pids'].filter((c) => {
    if (!existsSync(`${root}/${c}/cgroup.procs`)) return false
    const dir = `${root}/${c}/${PARENT}`
    // The parent may already exist (made by a root engine): we must be able to create task cgroups in it.
    try { mkdirSync(dir, { recursive: true }); return existsSync(`${dir}/cgroup.procs`) && writable(dir) } catch { return false }
  })
}

/** Controllers (memory, pids) of a v1 host (kept for callers that only need the list). */
export function availableCgroupControllers(fs: CgroupFs = DEFAULT_CGROUP_FS): string[] {
  const s = detectCgroups(fs)
  return s.version === 1 ? s.controllers : []
}

/**
 * cgroup v2: the engine's own cgroup (from /proc/self/cgroup, `0::/path`) is taken as its delegated
 * subtree (systemd `Delegate=yes`, or a container's namespace root). v2 lets only leaves hold processes,
 * so the engine first moves itself into a leaf `engine/`, then enables the controllers for `autokestra/`,
 * under which each task gets its own cgroup.
 */
function detectV2(fs: CgroupFs): CgroupSupport {
  const own = /^0::(\/.*)$/m.exec(read(fs.selfCgroup))?.[1]
  if (!own) return { version: 0, root: fs.root, controllers: [], reason: `cgroup v2, but ${fs.selfCgroup} names no v2 cgroup for the engine` }
  const base = join(fs.root, own)
  const none = (reason: string): CgroupSupport => ({ version: 0, root: fs.root, controllers: [], reason })
  if (!writable(join(base, 'cgroup.subtree_control')) || !writable(join(base, 'cgroup.procs')))
    return none(`cgroup v2, but the engine's cgroup ${base} is not delegated to it (not writable); run it with systemd Delegate=yes or as root`)
  const offered = words(read(join(base, 'cgroup.controllers')))
  const wanted = V2_WANTED.filter((c) => offered.includes(c))
  const missing = REQUIRED_CONTROLLERS.filter((c) => !wanted.includes(c))
  if (missing.length > 0) return none(`cgroup v2, but ${base} is not given the ${missing.join(' and ')} controller(s) (cgroup.controllers: ${offered.join(' ') || 'none'})`)
  const parent = join(base, PARENT)
  try {
    const subtree = words(read(join(base, 'cgroup.subtree_control')))
    if (!wanted.every((c) => subtree.includes(c))) {
      // No internal processes: what runs in `base` moves to a leaf before its children get controllers.
      const leaf = join(base, 'engine')
      mkdirSync(leaf, { recursive: true })
      for (const pid of words(read(join(base, 'cgroup.procs')))) {
        if (Number(pid) === process.pid) writeFileSync(join(leaf, 'cgroup.procs'), pid)
      }
      const others = words(read(join(base, 'cgroup.procs'))).filter((p) => Number(p) !== process.pid)
      if (others.length > 0) return none(`cgroup v2, but the engine's cgroup ${base} also holds other processes (${others.slice(0, 5).join(', ')}); give the engine a cgroup of its own`)
      writeFileSync(join(base, 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' '))
    }
    mkdirSync(parent, { recursive: true })
    writeFileSync(join(parent, 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' '))
  } catch (e) {
    return none(`cgroup v2, but enabling ${wanted.join(', ')} under ${base} failed: ${(e as { code?: string }).code ?? String(e)}`)
  }
  return { version: 2, root: fs.root, parent, controllers: wanted }
}

/** Creates the task's cgroup(s) with its limits, for the controllers `support` offers. */
export function createTaskCgroup(id: string, limits: { memoryMb: number; maxTasks: number }, support: CgroupSupport): TaskCgroup {
  const safe = id.replace(/[^A-Za-z0-9_.-]/g, '_')
  if (support.version === 2) return createV2(join(support.parent, safe), limits, support.controllers)
  return createV1(support.root, safe, limits, support.controllers)
}

function createV1(root: string, safe: string, limits: { memoryMb: number; maxTasks: number }, controllers: string[]): TaskCgroup {
  const dir = (c: string): string => `${root}/${c}/${PARENT}/${safe}`
  for (const c of controllers) mkdirSync(dir(c), { recursive: true })
  if (controllers.includes('memory')) {
    const bytes = String(limits.memoryMb * 1024 * 1024)
    writeFileSync(`${dir('memory')}/memory.limit_in_bytes`, bytes)
    // With swap accounting, cap memory+swap too so the limit cannot be dodged by swapping.
    try { writeFileSync(`${dir('memory')}/memory.memsw.limit_in_bytes`, bytes) } catch { /* no swap accounting */ }
  }
  if (controllers.includes('pids')) writeFileSync(`${dir('pids')}/pids.max`, String(limits.maxTasks))
  const procsFile = `${dir(controllers[0] ?? 'pids')}/cgroup.procs`
  return {
    dirs: controllers.map(dir),
    controllers,
    killAll: () => { if (controllers.length > 0) killListed(procsFile) },
    events() {
      const oom = /oom_kill (\d+)/.exec(read(`${dir('memory')}/memory.oom_control`))
      const pidsMax = /max (\d+)/.exec(read(`${dir('pids')}/pids.events`))
      return {
        oomKilled: controllers.includes('memory') && Number(oom?.[1] ?? 0) > 0,
        pidsMaxHit: controllers.includes('pids') && Number(pidsMax?.[1] ?? 0) > 0,
      }
    },
    remove() {
      for (const c of controllers) { try { rmdirSync(dir(c)) } catch { /* still busy, or gone */ } }
      return controllers.every((c) => !existsSync(dir(c)))
    },
  }
}

/** One v2 cgroup holds every limit: memory.max (+ no swap), pids.max, cpu.max (one CPU, like the docker runner). */
function createV2(dir: string, limits: { memoryMb: number; maxTasks: number }, controllers: string[]): TaskCgroup {
  mkdirSync(dir, { recursive: true })
  if (controllers.includes('memory')) {
    writeFileSync(join(dir, 'memory.max'), String(limits.memoryMb * 1024 * 1024))
    // Without swap accounting the file is absent; then there is no swap to dodge the limit with either.
    try { writeFileSync(join(dir, 'memory.swap.max'), '0') } catch { /* no swap accounting */ }
    // An OOM kill takes the whole task, not one process of it.
    try { writeFileSync(join(dir, 'memory.oom.group'), '1') } catch { /* older kernel */ }
  }
  if (controllers.includes('pids')) writeFileSync(join(dir, 'pids.max'), String(limits.maxTasks))
  if (controllers.includes('cpu')) writeFileSync(join(dir, 'cpu.max'), '100000 100000')
  return {
    dirs: [dir],
    controllers,
    killAll() {
      // cgroup.kill (Linux 5.14+) kills the whole group at once, forks in flight included.
      try { writeFileSync(join(dir, 'cgroup.kill'), '1'); return } catch { /* older kernel */ }
      killListed(join(dir, 'cgroup.procs'))
    },
    events() {
      const oom = /^oom_kill (\d+)$/m.exec(read(join(dir, 'memory.events')))
      const pidsMax = /^max (\d+)$/m.exec(read(join(dir, 'pids.events')))
      return {
        oomKilled: controllers.includes('memory') && Number(oom?.[1] ?? 0) > 0,
        pidsMaxHit: controllers.includes('pids') && Number(pidsMax?.[1] ?? 0) > 0,
      }
    },
    remove() {
      try { rmdirSync(dir) } catch { /* still busy, or gone */ }
      return !existsSync(dir)
    },
  }
}

/** Kills what `cgroup.procs` lists until it is empty (bounded: pid namespace teardown and pids.max stop re-forking). */
function killListed(procsFile: string): void {
  for (let round = 0; round < 100; round++) {
    const pids = read(procsFile).split('\n').filter(Boolean).map(Number)
    if (pids.length === 0) return
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ } }
  }
}

/** A task cgroup that already exists (any engine's), by its id: who is in it, kill them, remove it. */
export interface ExistingCgroup {
  /** Pids of the processes in it that this process can see (none when it is gone): cgroup.procs lists only those. */
  members(): number[]
  /**
   * Whether any process is in it, in whatever pid namespace (v2 `cgroup.events`, v1 `pids.current`; with only the
   * memory hierarchy, the members this process can see).
   */
  populated(): boolean
  /** SIGKILLs every process in it. */
  killAll(): void
  /** Removes it; true when it is gone. */
  remove(): boolean
}

/** The task cgroup named `id` (as createTaskCgroup names it), whether or not it exists. */
export function existingTaskCgroup(id: string, support: CgroupSupport): ExistingCgroup {
  const safe = id.replace(/[^A-Za-z0-9_.-]/g, '_')
  const dirs = support.version === 2 ? [join(support.parent, safe)]
    : support.version === 1 ? support.controllers.map((c) => `${support.root}/${c}/${PARENT}/${safe}`) : []
  const procs = dirs[0] ? join(dirs[0], 'cgroup.procs') : undefined
  const members = (): number[] => (procs ? words(read(procs)).map(Number) : [])
  const pidsDir = support.version === 1 && support.controllers.includes('pids') ? `${support.root}/pids/${PARENT}/${safe}` : undefined
  return {
    members,
    populated() {
      if (support.version === 2) return /^populated 1$/m.test(read(join(dirs[0]!, 'cgroup.events')))
      if (pidsDir) return Number(read(join(pidsDir, 'pids.current')).trim() || 0) > 0
      return members().length > 0
    },
    killAll() {
      if (!procs || members().length === 0) return
      if (support.version === 2) { try { writeFileSync(join(dirs[0]!, 'cgroup.kill'), '1'); return } catch { /* older kernel */ } }
      killListed(procs)
    },
    remove() {
      for (const d of dirs) { try { rmdirSync(d) } catch { /* still busy, or gone */ } }
      return dirs.every((d) => !existsSync(d))
    },
  }
}

/** Pids of every process in any task cgroup on this host (every engine's): where all sandboxed processes live. */
export function taskCgroupMembers(support: CgroupSupport): number[] {
  const parent = parentsOf(support)[0]
  if (!parent) return []
  let names: string[] = []
  try { names = readdirSync(parent) } catch { return [] }
  return names.flatMap((n) => words(read(join(parent, n, 'cgroup.procs'))).map(Number))
}

/** Kills what a task cgroup holds and removes it, waiting briefly for the killed to leave (they do so asynchronously). */
function killAndRemove(cg: ExistingCgroup): boolean {
  cg.killAll()
  for (let i = 0; i < 50; i++) {
    if (cg.remove()) return true
    if (cg.members().length > 0) cg.killAll()
    Bun.sleepSync(2)
  }
  return false
}

/** The task cgroup parents of this host: one per v1 controller, the one v2 parent, none without cgroups. */
const parentsOf = (support: CgroupSupport): string[] => support.version === 2 ? [support.parent]
  : support.version === 1 ? support.controllers.map((c) => `${support.root}/${c}/${PARENT}`) : []

/** Names of the task cgroups (of every engine) under any parent. */
function taskCgroupNames(support: CgroupSupport): Set<string> {
  const names = new Set<string>()
  for (const parent of parentsOf(support)) {
    try { for (const n of readdirSync(parent)) names.add(n) } catch { /* no parent yet */ }
  }
  return names
}

/** Whether any task cgroup of engine instance `instance` (engine-instance.ts) is still there. */
export const hasTaskCgroupsOf = (support: CgroupSupport, instance: string): boolean =>
  [...taskCgroupNames(support)].some((n) => instanceOf(n) === instance)

/**
 * Removes the task cgroups left behind by engine instances that are gone (`kill -9`, power loss): those named
 * `e<instance>-<random>` (engine-instance.ts) whose instance's liveness lock the kernel has let go. What they still
 * hold is killed first: normally nothing (a plugin's pid namespace dies with its launcher), but a cgroup is the one
 * thing its processes cannot leave, so this is the backstop. The cgroups of an instance whose lock is held, or cannot
 * be judged (no lock file where this engine looks: another mount namespace, an engine that could not take one), are
 * never touched, in whatever pid namespace either engine runs; nor is any name this version does not make (`p<pid>-`
 * cgroups of engines before it, whose pid proves nothing: docs/security.md, Known gaps). Once every cgroup of a gone
 * instance is removed its lock file goes too; on cgroup v1 (one hierarchy for the whole host, so nothing of it can be
 * elsewhere) so does that of a gone instance with no cgroup left.
 */
export function sweepStaleCgroups(support: CgroupSupport, dir: string = engineDir()): number {
  const byInstance = new Map<string, string[]>()
  for (const name of taskCgroupNames(support)) {
    const instance = instanceOf(name)
    if (instance) byInstance.set(instance, [...(byInstance.get(instance) ?? []), name])
  }
  let removed = 0
  for (const [instance, names] of byInstance) {
    probeInstance(instance, () => {
      const left = names.filter((n) => !killAndRemove(existingTaskCgroup(n, support)))
      removed += names.length - left.length
      if (left.length === 0) forgetInstance(instance, dir)
    }, dir)
  }
  if (support.version === 1) {
    for (const instance of lockedInstances(dir)) if (!byInstance.has(instance)) probeInstance(instance, () => forgetInstance(instance, dir), dir)
  }
  return removed
}

/** Kills what the task cgroups `ids` hold and removes them (a crashed worker's attempts: worker-sweep.ts). */
export function killTaskCgroups(support: CgroupSupport, ids: readonly string[]): number {
  return ids.filter((id) => killAndRemove(existingTaskCgroup(id, support))).length
}
