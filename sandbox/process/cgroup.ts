/**
 * Per-task cgroups: detect what the host offers (cgroup v1 memory + pids hierarchies, or a delegated
 * cgroup v2 subtree), create a task's cgroup with its limits, kill everything inside, read its events,
 * remove it. The cgroupfs root and /proc/self/cgroup are injectable, so the v2 paths can be tested against
 * a fake cgroupfs in a temp dir on a v1 host.
 */

import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

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

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM'
  }
}

/** A task cgroup that already exists (any engine's), by its id: who is in it, kill them, remove it. */
export interface ExistingCgroup {
  /** Pids of the processes in it (none when it is gone). */
  members(): number[]
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
  return {
    members,
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

/**
 * Whether a process lives in a pid namespace nested deeper than a plugin's own below ours (`NSpid:` lists its pid at
 * each level we can see): then it belongs to an engine running in another pid namespace (a container sharing this
 * cgroup hierarchy), whose pid in the cgroup's name says nothing here.
 */
const nestedDeeper = (pid: number): boolean => words(/^NSpid:(.*)$/m.exec(read(`/proc/${pid}/status`))?.[1] ?? '').length > 2

/** Pids of every process in any task cgroup on this host (every engine's): where all sandboxed processes live. */
export function taskCgroupMembers(support: CgroupSupport): number[] {
  const parent = support.version === 2 ? support.parent : support.version === 1 ? `${support.root}/${support.controllers[0]}/${PARENT}` : undefined
  if (!parent) return []
  let names: string[] = []
  try { names = readdirSync(parent) } catch { return [] }
  return names.flatMap((n) => words(read(join(parent, n, 'cgroup.procs'))).map(Number))
}

/** Kills what a task cgroup holds and removes it, waiting briefly for the killed to leave (they do so asynchronously). */
function killAndRemove(cg: ExistingCgroup): boolean {
  if (cg.members().some(nestedDeeper)) return cg.remove()
  cg.killAll()
  for (let i = 0; i < 50; i++) {
    if (cg.remove()) return true
    if (cg.members().length > 0) cg.killAll()
    Bun.sleepSync(2)
  }
  return false
}

/** `p<engine pid>-<random>` (workspace.ts): the engine an attempt's cgroup belongs to. */
const ID = /^p(\d+)-/

/**
 * Removes task cgroups left behind by engines that died (`kill -9`, power loss): those named `p<pid>…` whose engine
 * pid is gone. What they still hold is killed first: normally nothing (a plugin's pid namespace dies with its
 * launcher), but a cgroup is the one thing its processes cannot leave, so this is the backstop. A live engine's
 * cgroups are never touched (a pid reused since by another process hides a dead engine's cgroups: they are then
 * only removed once that pid is gone too), nor those whose processes live in a pid namespace nested deeper than a
 * plugin's (an engine in a container: its pid means nothing here; cgroup.procs shows us no process of an engine in
 * a namespace beside ours at all).
 */
export function sweepStaleCgroups(support: CgroupSupport): number {
  const parents = support.version === 2 ? [support.parent]
    : support.version === 1 ? support.controllers.map((c) => `${support.root}/${c}/${PARENT}`) : []
  const ids = new Set<string>()
  for (const parent of parents) {
    let names: string[] = []
    try { names = readdirSync(parent) } catch { continue }
    for (const name of names) {
      const m = ID.exec(name)
      if (m && !alive(Number(m[1]))) ids.add(name)
    }
  }
  let removed = 0
  for (const id of ids) if (killAndRemove(existingTaskCgroup(id, support))) removed++
  return removed
}

/** Kills what the task cgroups `ids` hold and removes them (a crashed worker's attempts: worker-sweep.ts). */
export function killTaskCgroups(support: CgroupSupport, ids: readonly string[]): number {
  return ids.filter((id) => killAndRemove(existingTaskCgroup(id, support))).length
}
