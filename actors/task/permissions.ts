/** Effective permissions: the manifest's grant, narrowed (never widened) by the task's `permissions:`. */

import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { PermissionSet } from '../../runtime/workflow/model.ts'
import type { Permissions } from '../../sandbox/manifest.ts'

const within = (granted: string[] | undefined, asked: string[] | undefined, what: string, widen: string[]): string[] | undefined => {
  if (asked === undefined) return granted
  const g = granted ?? []
  for (const a of asked) if (!g.includes(a) && !g.includes('*')) widen.push(`${what} ${a}`)
  return asked
}

/** Throws INVALID_WORKFLOW listing every widening the task attempts. */
export function narrowPermissions(manifest: Permissions | undefined, task: PermissionSet | undefined): Permissions {
  const m = manifest ?? {}
  if (!task) return m
  const widen: string[] = []
  const out: Permissions = {}
  const network = within(m.network, task.network, 'network', widen)
  const env = within(m.env, task.env, 'env', widen)
  const run = within(m.run, task.run, 'run', widen)
  const read = within(m.filesystem?.read, task.filesystem?.read, 'filesystem.read', widen)
  const write = within(m.filesystem?.write, task.filesystem?.write, 'filesystem.write', widen)
  if (widen.length)
    throw new AppError(ErrorCode.InvalidWorkflow, `task permissions may only narrow the plugin's: not granted by the manifest: ${widen.join(', ')}`, { widen })
  if (network) out.network = network
  if (env) out.env = env
  if (run) out.run = run
  if (read || write) out.filesystem = { ...(read ? { read } : {}), ...(write ? { write } : {}) }
  return out
}
