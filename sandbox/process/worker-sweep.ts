/**
 * After a worker thread dies (it crashed, or was terminated), what its process runners started is cleaned up by the
 * engine that survives it: the attempts' cgroups are killed and removed, and the runners' workspaces deleted.
 */

import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { detectCgroups, killTaskCgroups } from './cgroup.ts'
import { workspacesOfThread } from './workspace.ts'

/**
 * Kills every process the attempts of worker thread `thread` left in their cgroups (normally none: a plugin's pid
 * namespace dies with its launcher, which dies with the thread; a cgroup is what no process of it can leave, so this
 * is the backstop) and removes that worker's workspaces. Returns how many attempts' cgroups were removed.
 */
export function sweepWorkerSandboxes(thread: number, tmpRoot: string = tmpdir()): number {
  const spaces = workspacesOfThread(tmpRoot, thread)
  const support = detectCgroups()
  let removed = 0
  for (const ws of spaces) {
    removed += killTaskCgroups(support, ws.attempts)
    rmSync(ws.root, { recursive: true, force: true })
  }
  return removed
}
