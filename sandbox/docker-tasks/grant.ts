/**
 * A docker task's grant (docs/security.md#docker-tasks): the task's `permissions:` as they are, which must hold
 * `docker: true`, within the operator's `sandbox.scriptPolicy` (whose `docker` is off unless the operator turns it on).
 * Nothing else a grant can say applies to the containers the engine starts, so nothing else is accepted, save one
 * network entry: `*:*`, the only honest description of a container on Docker's bridge (it reaches any host and port).
 */
import { defaultScriptPolicy, type SandboxPolicy } from '../../runtime/config/schema.ts'
import { AppError, ErrorCode, type ErrorInfo } from '../../runtime/errors.ts'
import { IssueCode } from '../../runtime/workflow/issues.ts'
import type { PluginCall } from '../../runtime/workflow/tasks/kind.ts'
import type { Permissions } from '../manifest.ts'
import { checkGrant, describeIssues, type GrantContext, type GrantIssue } from '../permissions/policy.ts'
import { SCRIPT_POLICY } from '../scripts/grant.ts'

export { DOCKER_GRANT_MEANING } from '../../runtime/workflow/tasks/docker-meaning.ts'

/** Where a refusal of a docker task's grant comes from, in its details. */
export const DOCKER_GRANT = 'docker-task'

/** The runner a docker task is recorded and shown with: none runs it, the engine performs it. */
export const ENGINE_RUNNER = 'engine'

/** The one network entry a docker task may hold: its containers then join the default bridge network. */
export const ANY_NETWORK = '*:*'

/** Whether a docker task's containers get a network (the default bridge) rather than none. */
export const wantsNetwork = (grant: Permissions): boolean => (grant.network ?? []).includes(ANY_NETWORK)

/** The checked grant of a docker task; INVALID_WORKFLOW (details: `issues`, `refusedBy: DOCKER_GRANT`) when refused. */
export function dockerGrant(call: PluginCall, ctx: Omit<GrantContext, 'runner'>): Permissions {
  const cap: SandboxPolicy = ctx.scripts?.policy ?? defaultScriptPolicy()
  const asked = call.permissions ?? {}
  const issues: GrantIssue[] = []
  if (asked.docker !== true) issues.push({ permission: 'docker', entry: String(asked.docker ?? 'absent'), problem: 'a docker task needs docker: true', beyondPolicy: false })
  const unused = (permission: GrantIssue['permission'], entries: string[] | undefined) => {
    for (const e of entries ?? []) issues.push({ permission, entry: e, problem: 'means nothing to a docker task (its containers get no host path, program or engine variable)', beyondPolicy: false })
  }
  unused('filesystem.read', asked.filesystem?.read)
  unused('filesystem.write', asked.filesystem?.write)
  unused('run', asked.run)
  unused('env', asked.env)
  for (const e of asked.network ?? []) {
    if (e !== ANY_NETWORK) issues.push({ permission: 'network', entry: e, problem: `a container on Docker's bridge reaches any host: the only network entry a docker task may hold is ${ANY_NETWORK}`, beyondPolicy: false })
  }
  const network = asked.network?.includes(ANY_NETWORK) === true
  // `*:*` is a cap's spelling (any host, any port), not a plugin grant's: judged here, against a cap saying the same.
  if (network && !cap.network.some((c) => c.trim() === ANY_NETWORK)) {
    issues.push({ permission: 'network', entry: ANY_NETWORK, problem: `beyond ${SCRIPT_POLICY}.network (${cap.network.length ? `allowed: ${cap.network.join(', ')}` : 'none allowed'}; a container on the bridge needs ${ANY_NETWORK} there)`, beyondPolicy: true })
  }
  const own: Permissions = { ...(asked.docker === true ? { docker: true } : {}), ...(network ? { network: [ANY_NETWORK] } : {}) }
  issues.push(...checkGrant(asked.docker === true ? { docker: true } : {}, { ...ctx, runner: { programs: 'image' }, policy: cap, policyName: SCRIPT_POLICY, dockerTask: true }))
  if (issues.length > 0) {
    throw new AppError(ErrorCode.InvalidWorkflow, `docker task ${call.id} asks for what it may not be granted: ${describeIssues(issues)}`, { issues, refusedBy: DOCKER_GRANT })
  }
  return own
}

/**
 * The workflow issue a refused docker grant is, or undefined for an error that is not one: DOCKER_GRANT_REQUIRED
 * without `docker: true` is the kind's (tasks/docker.ts), so none here; DOCKER_NOT_ALLOWED when `sandbox.scriptPolicy.docker` refuses it, SCRIPT_POLICY_EXCEEDED
 * for a network beyond the cap, PERMISSIONS_REFUSED for an entry no docker task may hold.
 */
export function dockerGrantIssue(error: ErrorInfo): { field: 'permissions'; code: IssueCode } | undefined {
  if (error.code !== ErrorCode.InvalidWorkflow) return undefined
  const d = error.details as { refusedBy?: unknown; issues?: GrantIssue[] } | undefined
  if (d?.refusedBy !== DOCKER_GRANT) return undefined
  const issues = d.issues ?? []
  // No docker: true at all: the kind's own check reports it (DOCKER_GRANT_REQUIRED), with or without the plugins.
  if (issues.some((i) => i.permission === 'docker' && !i.beyondPolicy)) return undefined
  if (issues.some((i) => i.permission === 'docker')) return { field: 'permissions', code: IssueCode.DockerNotAllowed }
  return { field: 'permissions', code: issues.every((i) => i.beyondPolicy) ? IssueCode.ScriptPolicyExceeded : IssueCode.PermissionsRefused }
}
