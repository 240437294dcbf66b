/** The launch policy handed from the engine to the launcher (and then to the in-process guard) via the environment. */

import type { Permissions } from '../manifest.ts'
import type { LandlockPolicy } from './landlock.ts'
import type { BpfInstruction } from './seccomp.ts'

/** Environment variable carrying the policy; the launcher and confine.ts delete it before plugin code runs. */
export const POLICY_ENV = 'AUTOKESTRA_SANDBOX'

/** Set by the native launcher for Bun plugins: fd of the gate confine.ts waits on until the cgroups are joined. */
export const GATE_ENV = 'AUTOKESTRA_SANDBOX_GATE'

/** For Bun plugins: the plugin's own environment (JSON), restored by confine.ts once confined; Bun starts on a fixed one. */
export const PLUGIN_ENV = 'AUTOKESTRA_PLUGIN_ENV'

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

/** What confine.ts needs inside a Bun plugin. */
export interface GuardPolicy {
  permissions: Permissions
  /** Absolute paths of executables `run` allows. */
  run: string[]
  /** Mechanisms in force, for diagnostics. */
  mechanisms: string[]
}
