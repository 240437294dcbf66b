/** The launch policy handed from the engine to the launcher (and then to the in-process guard) via the environment. */

import type { GuardPolicy } from '../../sdk/guest-policy.ts'
import type { LandlockPolicy } from './landlock.ts'
import type { BpfInstruction } from './seccomp.ts'

export { GATE_ENV, PLUGIN_ENV, POLICY_ENV, type GuardPolicy } from '../../sdk/guest-policy.ts'

/** Placeholder path the launcher resolves to its own `/proc/<pid>` directory (Bun reads maps/statm/cgroup). */
export const PROC_SELF = '/proc/self'

/** What `launch.ts` applies before it replaces itself with the plugin. */
export interface LaunchPolicy {
  v: 1
  /**
   * Namespaces to create. The native launcher creates them itself (user only when the engine is not root, mapping
   * the engine's uid to itself: the plugin is never uid 0, not even inside); the Bun launcher is started under
   * `unshare` with the same flags and ignores this field. `mount` also brings a private IPC namespace.
   */
  ns: { net: boolean; pid: boolean; user: boolean; mount: boolean }
  /** Cgroup directories to join (their `cgroup.procs`), before anything else. */
  cgroups: string[]
  /** In the private mount namespace: paths bind-mounted onto themselves nosuid, nodev, noexec (temp dir, write grants). */
  noexec: string[]
  rlimits: { cpuSeconds: number; nofile: number; core: number }
  /** Working directory of the program (engine-owned: the attempt's temp dir, or the empty start dir). */
  cwd: string
  umask: number
  landlock: LandlockPolicy | null
  /**
   * The inherited descriptor of the uid lease lock (see uids.ts): the launcher keeps it while it waits for the plugin
   * and closes it in the plugin's process before execve. null when there is no lease.
   */
  leaseFd: number | null
  /** Switch to this uid/gid (a root engine always does: a leased uid, never 0); capabilities are always dropped. */
  user: { uid: number; gid: number } | null
  /** Installed last, just before execve (see seccomp.ts); null when the host has no seccomp (permissive mode only). */
  seccomp: BpfInstruction[] | null
  /**
   * The program to become. `awaitInput`: wait until stdin is readable (the invocation arrived) before execve, so a
   * spare exec plugin runs no plugin code before its attempt.
   */
  exec: { path: string; argv: string[]; env: Record<string, string>; awaitInput: boolean }
  /** For Bun plugins: the policy the in-process guard enforces (passed on in POLICY_ENV). */
  guard: GuardPolicy | null
}
