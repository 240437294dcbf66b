/** Per-task cgroup (v1 memory + pids hierarchies): create with limits, kill everything inside, read events, remove. */

import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'

const ROOT = '/sys/fs/cgroup'
const PARENT = 'autokestra'

/** The cgroups of one task attempt. */
export interface TaskCgroup {
  /** Directories the launcher joins. */
  dirs: string[]
  /** Controllers in force, e.g. ['memory','pids']. */
  controllers: string[]
  /** SIGKILLs every process in the group until it is empty. */
  killAll(): void
  /** What the limits observed: an OOM kill, or fork refusals at pids.max. */
  events(): { oomKilled: boolean; pidsMaxHit: boolean }
  /** Removes the directories; true when none is left. */
  remove(): boolean
}

const read = (f: string): string => { try { return readFileSync(f, 'utf8') } catch { return '' } }

/** Controllers (memory, pids) whose v1 hierarchy is mounted and writable by us. */
export function availableCgroupControllers(): string[] {
  return ['memory', 'pids'].filter((c) => {
    // Only a mounted v1 hierarchy: on a v2 host, mkdir here would create a stray cgroup named "memory".
    if (!existsSync(`${ROOT}/${c}/cgroup.procs`) || existsSync(`${ROOT}/cgroup.controllers`)) return false
    const dir = `${ROOT}/${c}/${PARENT}`
    try { mkdirSync(dir, { recursive: true }); return existsSync(`${dir}/cgroup.procs`) } catch { return false }
  })
}

/** Creates `<controller>/autokestra/<id>` with the limits; only for controllers in `controllers`. */
export function createTaskCgroup(id: string, limits: { memoryMb: number; maxTasks: number }, controllers: string[]): TaskCgroup {
  const safe = id.replace(/[^A-Za-z0-9_.-]/g, '_')
  const dir = (c: string): string => `${ROOT}/${c}/${PARENT}/${safe}`
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
    killAll() {
      if (controllers.length === 0) return
      // Bounded: each round kills what is there; pid namespace teardown and pids.max stop re-forking.
      for (let round = 0; round < 100; round++) {
        const pids = read(procsFile).split('\n').filter(Boolean).map(Number)
        if (pids.length === 0) return
        for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ } }
      }
    },
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

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM'
  }
}

/**
 * Removes task cgroups left behind by engines that died (`kill -9`, power loss): those named `p<pid>-…`
 * whose engine pid is gone. Only empty cgroups can be removed, so a live task is never touched.
 */
export function sweepStaleCgroups(controllers: string[]): number {
  let removed = 0
  for (const c of controllers) {
    let names: string[] = []
    try { names = readdirSync(`${ROOT}/${c}/${PARENT}`) } catch { continue }
    for (const name of names) {
      const m = /^p(\d+)-/.exec(name)
      if (!m || alive(Number(m[1]))) continue
      try { rmdirSync(`${ROOT}/${c}/${PARENT}/${name}`); removed++ } catch { /* still busy */ }
    }
  }
  return removed
}
