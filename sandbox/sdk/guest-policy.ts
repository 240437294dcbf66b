/** What the launcher hands the guest (confine.ts) through the environment: the guard policy and the start-up handles. */

import type { Permissions } from '../../runtime/workflow/sandbox-fields.ts'

/** Environment variable carrying a policy: the launcher's (LaunchPolicy), then the guard's; each reader deletes it. */
export const POLICY_ENV = 'AUTOKESTRA_SANDBOX'

/** Set by the native launcher for Bun plugins: fd of the gate confine.ts waits on until the cgroups are joined. */
export const GATE_ENV = 'AUTOKESTRA_SANDBOX_GATE'

/** For Bun plugins: the plugin's own environment (JSON), restored by confine.ts once confined; Bun starts on a fixed one. */
export const PLUGIN_ENV = 'AUTOKESTRA_PLUGIN_ENV'

/** What confine.ts needs inside a Bun plugin. */
export interface GuardPolicy {
  permissions: Permissions
  /** Absolute paths of executables `run` allows. */
  run: string[]
  /** Mechanisms in force, for diagnostics. */
  mechanisms: string[]
}

/** Docker: the Landlock policy the container's first program (lockdown.ts) applies to itself; it deletes it. */
export const LOCKDOWN_ENV = 'AUTOKESTRA_LANDLOCK'

/** What lockdown.ts holds a Docker plugin container to, in container paths (it adds Bun and the ELF loaders). */
export interface LockdownPolicy {
  /** Programs that may be executed (the `run` grant as the image has them, the exec entry). */
  exec: string[]
  /** Directories and files that may be written (besides a few device files). */
  write: string[]
  /** TCP ports that may be connected to; no port may be bound. */
  connectPorts: number[]
  /** The task has a network grant: Landlock must hold the ports (ABI 4), or nothing runs. */
  network: boolean
}
