/** In-process confinement of a Bun plugin, run by the SDK boot before the plugin's code loads. */

import { guardFilesystem } from './fs-guard.ts'
import { guardNetwork, guardRun } from './guards.ts'
import { POLICY_ENV, type GuardPolicy } from './policy.ts'

export { PermissionDeniedError, asPermissionDenied } from './denied.ts'

/**
 * Reads the guard policy the launcher passed in `AUTOKESTRA_SANDBOX`, deletes it, and installs the
 * filesystem, network and subprocess guards. The kernel (Landlock, namespaces, cgroups) was already applied by the
 * launcher before this process started: the guards only turn refusals into precise errors.
 * Without a policy (an unsandboxed run) it does nothing.
 */
export async function confineFromEnv(): Promise<void> {
  const raw = process.env[POLICY_ENV]
  delete process.env[POLICY_ENV]
  if (!raw) return
  const policy = JSON.parse(raw) as GuardPolicy
  guardFilesystem()
  guardNetwork(policy)
  guardRun(policy)
}
