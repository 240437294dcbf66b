/** What the process runner asks of the isolation layer: how to start a plugin, and how to end it. */

import type { Permissions, LoadedPlugin } from '../manifest.ts'
import type { PermissionDenial } from '../runner.ts'
import type { PathPin } from './pins.ts'

export interface LaunchSpec {
  plugin: LoadedPlugin
  permissions: Permissions
  env: Record<string, string>
  tmpDir: string
  /** Empty, engine-owned, unwritable: where launchers and Bun start (nothing there for Bun or a shell to pick up). */
  startDir: string
  limits: { memoryMb: number; cpuSeconds: number; maxProcesses: number }
  mode: 'strict' | 'permissive'
  bootPath: string
  id: string
  /**
   * The filesystem grant paths as the runner found them when it took the attempt (pins.ts); the launcher refuses to
   * start when one no longer is what it pinned. Absent: prepareLaunch pins them itself.
   */
  pins?: Record<string, PathPin>
}

export interface Launch {
  argv: string[]
  env: Record<string, string>
  cwd: string
  mechanisms: string[]
  /** Descriptors the launcher inherits as fd 3, 4, … (the uid lease lock: the launcher holds it while it lives). */
  fds?: number[]
  /** Told the pid of the spawned process, so `killAll` can reach it. */
  attach(pid: number): void
  killAll(): void
  /**
   * The pin check of a fresh launch, again, for a process started earlier (a spare): throws PATH_CHANGED when the
   * plugin directory, the entry, a `run` program or any other pinned path is no longer what this launch granted
   * (the runner then disposes of the process and launches afresh, which refuses or grants what it checks now).
   */
  recheck(): void
  /**
   * Kills what is left, removes the cgroups and gives the uid back (once; later calls only report), and returns the
   * limit the kernel enforced (memory: the cgroup's OOM kill; pids: pids.max), if any.
   */
  finish(): Promise<PermissionDenial | undefined>
}

export type PrepareLaunch = (spec: LaunchSpec) => Promise<Launch>
