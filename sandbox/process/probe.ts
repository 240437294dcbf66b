/** Detects which isolation mechanisms this host offers (cached for the life of the engine). */

import { existsSync, readFileSync } from 'node:fs'
import { detectCgroups, type CgroupSupport } from './cgroup.ts'
import { landlockAbi } from './launcher/landlock.ts'
import { seccompProgram } from './launcher/seccomp.ts'

/** What the host offers. */
export interface SandboxProbe {
  /** Landlock ABI version, 0 when unavailable (4+ adds TCP rules, 6+ signal/abstract-socket scoping). */
  landlockAbi: number
  /** A network namespace can be created (`unshare -n`, or `-rn` when not root). */
  netns: boolean
  /** A pid namespace can be created (same user-namespace rule). */
  pidns: boolean
  /** A mount (+ IPC) namespace can be created, for the noexec temp dir (same user-namespace rule). */
  mountns: boolean
  /** A seccomp filter can be installed (the kernel has it and we have a filter for this architecture). */
  seccomp: boolean
  /** Controllers the engine can limit a task with (v1: memory, pids; v2: memory, pids, cpu). */
  cgroups: string[]
  /** The cgroup version in use and where task cgroups go, or why there are none (absent: v1 with `cgroups`). */
  cgroup?: CgroupSupport
  /** `fs.protected_hardlinks`: 'on' (1), 'off' (0), or 'unknown' when it cannot be read (see hardlinkProtection). */
  protectedHardlinks: HardlinkProtection
  root: boolean
}

/** Where the kernel says whether hard links are protected (tests point hardlinkProtection at a temp file). */
export const PROTECTED_HARDLINKS = '/proc/sys/fs/protected_hardlinks'

/** Whether an unprivileged user may hard-link only files they own or can read and write (the sysctl is 1). */
export type HardlinkProtection = 'on' | 'off' | 'unknown'

/**
 * Reads `fs.protected_hardlinks` (at `path`). A pin holds an inode, and a hard link is the one way to give a checked
 * file a second name: that the inode cannot be a file the link's maker may not read (another user's key, hard-linked
 * into a plugin directory and granted from there) holds only when this is 1. 'unknown' when it cannot be read.
 */
export function hardlinkProtection(path: string = PROTECTED_HARDLINKS): HardlinkProtection {
  let v: string
  try { v = readFileSync(path, 'utf8').trim() } catch { return 'unknown' }
  return v === '1' ? 'on' : v === '0' ? 'off' : 'unknown'
}

let cached: SandboxProbe | undefined

const works = (argv: string[]): boolean => {
  try { return Bun.spawnSync(argv, { stdout: 'ignore', stderr: 'ignore' }).exitCode === 0 } catch { return false }
}

/** Probes once; later calls return the cached answer. */
export function probeSandboxSync(): SandboxProbe {
  if (cached) return cached
  const root = process.getuid?.() === 0
  // A non-root engine maps its own uid to itself (never to 0) in the plugin's user namespace.
  const user = root ? [] : ['-c']
  // A non-root engine may still own a delegated cgroup v2 subtree; v1 needs root (detection says why not).
  const cgroup = detectCgroups()
  cached = {
    landlockAbi: landlockAbi(),
    netns: works(['unshare', ...user, '-n', 'true']),
    pidns: works(['unshare', ...user, '--pid', '--fork', '--kill-child', 'true']),
    mountns: works(['unshare', ...user, '-m', '-i', 'true']),
    seccomp: seccompProgram({ pathChmod: false }) !== undefined && existsSync('/proc/sys/kernel/seccomp/actions_avail'),
    cgroups: cgroup.controllers,
    cgroup,
    protectedHardlinks: hardlinkProtection(),
    root,
  }
  return cached
}

/** Async form of the probe (the contract the engine uses). */
export async function probeSandbox(): Promise<SandboxProbe> {
  return probeSandboxSync()
}
