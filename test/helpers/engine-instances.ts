/**
 * Tests' view of which engine process made which task cgroups (sandbox/process/engine-instance.ts): an instance's
 * lock file says which process took it (its holder's pid, meaningful to a test that shares its pid namespace). The
 * product never reads that pid; a test uses it to tell its own cgroups from those other test files leave.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { engineDir, instanceOf } from '../../sandbox/process/engine-instance.ts'

/** The instance ids whose lock file names process `pid` as its (last) holder. */
export function instancesOfProcess(pid: number = process.pid): Set<string> {
  const dir = engineDir()
  const out = new Set<string>()
  let names: string[] = []
  try { names = readdirSync(dir) } catch { return out }
  for (const n of names) {
    const m = /^([0-9a-f]{12})\.lock$/.exec(n)
    if (!m) continue
    try { if ((JSON.parse(readFileSync(join(dir, n), 'utf8')) as { pid?: number }).pid === pid) out.add(m[1]!) } catch { /* being written, or gone */ }
  }
  return out
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
