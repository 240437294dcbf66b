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
