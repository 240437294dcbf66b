/**
 * Tests' view of which engine process made which task cgroups (sandbox/process/engine-instance.ts): an instance's
 * lock file says which process took it (its holder's pid, meaningful to a test that shares its pid namespace). The
 * product never reads that pid; a test uses it to tell its own cgroups from those other test files leave.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { engineDir, instanceOf, lockedInstances } from '../../sandbox/process/engine-instance.ts'

/** The instance ids whose lock file names process `pid` as its (last) holder. */
export function instancesOfProcess(pid: number = process.pid): Set<string> {
  const dir = engineDir()
  return new Set(lockedInstances(dir).filter((id) => {
    try { return (JSON.parse(readFileSync(join(dir, `${id}.lock`), 'utf8')) as { pid?: number }).pid === pid } catch { return false } // being written, or gone
  }))
}

/** The v1 task cgroups (`<controller>/<name>`) of the instances of process `pid` (or of the instances given). */
export function taskCgroupsOf(of: number | Set<string> = process.pid, controllers: readonly string[] = ['memory', 'pids']): string[] {
  const instances = typeof of === 'number' ? instancesOfProcess(of) : of
  return controllers.flatMap((c) => {
    try {
      return readdirSync(`/sys/fs/cgroup/${c}/autokestra`).filter((n) => instances.has(instanceOf(n) ?? '')).map((n) => `${c}/${n}`)
    } catch { return [] }
  })
}
