/**
 * The remotes a call's rendered input names (PluginCall.remoteInputs, `core/git-source.checkout`'s `repoUrl`),
 * checked against the call's network grant before the attempt starts: a template that renders to another host than
 * the one granted is a denial, not a connection the sandbox would only half hold (the kernel enforces ports, not
 * hosts: docs/security.md#known-gaps).
 */
import { ErrorCode, type ErrorInfo } from '../../runtime/errors.ts'
import { parseRemote } from '../../runtime/workflow/tasks/git-url.ts'
import type { PluginCall } from '../../runtime/workflow/tasks/kind.ts'
import { isNetworkAllowed } from '../../sandbox/sdk/network.ts'

/** A refusal of one remote: the error the attempt fails with, and the denial to audit when it is one. */
export interface RemoteRefusal { error: ErrorInfo; denial?: { permission: 'network'; target: string } }

/** Undefined when every remote input is a URL the grant covers. */
export function checkRemotes(call: PluginCall, input: unknown): RemoteRefusal | undefined {
  const fields = input !== null && typeof input === 'object' ? (input as Record<string, unknown>) : {}
  for (const name of call.remoteInputs ?? []) {
    const v = fields[name]
    if (v === undefined) continue
    if (typeof v !== 'string') return { error: { code: ErrorCode.InvalidTaskInput, message: `inputs.${name} renders to a ${typeof v}, not a URL` } }
    const r = parseRemote(v)
    if (!r.ok) return { error: { code: ErrorCode.InvalidTaskInput, message: `inputs.${name}: ${r.problem}` } }
    const granted = call.permissions?.network ?? []
    if (!isNetworkAllowed(granted, r.remote.host, r.remote.port)) {
      const target = r.remote.target
      return {
        error: { code: ErrorCode.PermissionDenied, message: `task ${call.id}: inputs.${name} reaches ${target}, which its network grant (${granted.join(', ') || 'none'}) does not cover`, details: { permission: 'network', target } },
        denial: { permission: 'network', target },
      }
    }
  }
  return undefined
}
