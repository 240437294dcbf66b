/** The one list of permission kinds a denial can name: both runners, the guards (inside the plugin) and the detector use it. */

/** Every kind, grants first, then limits. */
export const PERMISSION_KINDS = [
  'network', 'filesystem.read', 'filesystem.write', 'env', 'run', 'memory', 'pids', 'cpu', 'output',
] as const
export type PermissionKind = (typeof PERMISSION_KINDS)[number]

/** Limits rather than grants: hitting one fails the task with RESOURCE_LIMIT instead of PERMISSION_DENIED. */
export const RESOURCE_KINDS: readonly PermissionKind[] = ['memory', 'pids', 'cpu', 'output']

/** A permission the kernel or the engine refused (its kind and what was refused), for the task's error and the audit trail. */
export interface PermissionDenial {
  permission: PermissionKind
  target: string
  /**
   * Set when the denial was inferred from text a program printed (a shell's "Permission denied", a crashed native
   * plugin's EACCES message), not seen by the engine's instruments or by the guard's sealed marker: such text may be
   * data the program relayed. The task's error details and the audit event say so.
   */
  inferred?: true
}

/** True when `s` names a permission kind. */
export const isPermissionKind = (s: unknown): s is PermissionKind =>
  typeof s === 'string' && (PERMISSION_KINDS as readonly string[]).includes(s)

/** A `{permission, target}` a plugin or the kernel reported, or undefined when it does not name a known kind. */
export function asDenial(v: unknown): PermissionDenial | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const { permission, target, inferred } = v as { permission?: unknown; target?: unknown; inferred?: unknown }
  if (!isPermissionKind(permission)) return undefined
  return { permission, target: typeof target === 'string' ? target : String(target ?? ''), ...(inferred === true ? { inferred } : {}) }
}
