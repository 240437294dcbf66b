/** The launch policy handed from the engine to the launcher (and then to the in-process guard) via the environment. */

import type { Permissions } from '../manifest.ts'
import type { LandlockPolicy } from './landlock.ts'

/** Environment variable carrying the policy; the launcher and confine.ts delete it before plugin code runs. */
export const POLICY_ENV = 'AUTOKESTRA_SANDBOX'

/** Set by the native launcher for Bun plugins: fd of the gate confine.ts waits on until the cgroups are joined. */
export const GATE_ENV = 'AUTOKESTRA_SANDBOX_GATE'

/** Placeholder path the launcher resolves to its own `/proc/<pid>` directory (Bun reads maps/statm/cgroup). */
export const PROC_SELF = '/proc/self'

/** What `launch.ts` applies before it replaces itself with the plugin. */
export interface LaunchPolicy {
  v: 1
  /**
   * Namespaces to create. The native launcher creates them itself (user only when the engine is not root);
   * the Bun launcher is started under `unshare` with the same flags and ignores this field.
   */
  ns: { net: boolean; pid: boolean; user: boolean }
  /** Cgroup directories to join (their `cgroup.procs`), before anything else. */
  cgroups: string[]
  rlimits: { cpuSeconds: number; nofile: number; core: number }
  landlock: LandlockPolicy | null
  /** Switch to this uid/gid (only when the engine runs as root); capabilities are always dropped. */
  user: { uid: number; gid: number } | null
  /** The program to become. */
  exec: { path: string; argv: string[]; env: Record<string, string> }
  /** For Bun plugins: the policy the in-process guard enforces (passed on in POLICY_ENV). */
  guard: GuardPolicy | null
}

/** What confine.ts needs inside a Bun plugin. */
export interface GuardPolicy {
  permissions: Permissions
  /** Absolute paths of executables `run` allows. */
  run: string[]
  /** Mechanisms in force, for diagnostics. */
  mechanisms: string[]
}
