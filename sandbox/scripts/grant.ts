/**
 * A script task's grant (docs/scripts.md, docs/security.md#script-tasks): the task's `permissions:` as they are
 * (nothing when absent), refused beyond the operator's `sandbox.scriptPolicy`, plus what its interpreter needs to
 * run (interpreters.ts), which the engine resolves and pins and no workflow can widen.
 */
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { defaultScriptPolicy, type SandboxPolicy } from '../../runtime/config/schema.ts'
import type { PluginCall, ScriptInterpreter } from '../../runtime/workflow/tasks/kind.ts'
import type { ErrorInfo } from '../../runtime/errors.ts'
import { IssueCode } from '../../runtime/workflow/issues.ts'
import type { Permissions } from '../manifest.ts'
import { checkGrant, describeIssues, type GrantContext } from '../permissions/policy.ts'
import type { RunnerKind } from '../runners.ts'
import { interpreterGrant } from './interpreters.ts'

/** Where a refusal of a script's grant comes from, in its details: what apply reports it as. */
export const SCRIPT_POLICY = 'sandbox.scriptPolicy'

/** A script's grant, the program its interpreter runs as, and the context its grant is checked in again at launch. */
export interface ScriptGrant {
  grant: Permissions
  program?: string
  /** The cap with the interpreter's own entries added: what the launch-time re-check of the whole grant uses. */
  ctx: Omit<GrantContext, 'runner'>
}

const union = (a: string[] | undefined, b: string[] | undefined): string[] | undefined =>
  a === undefined && b === undefined ? undefined : [...new Set([...(a ?? []), ...(b ?? [])])]

function merge(a: Permissions, b: Permissions): Permissions {
  const out: Permissions = {}
  const network = union(a.network, b.network)
  const run = union(a.run, b.run)
  const env = union(a.env, b.env)
  const read = union(a.filesystem?.read, b.filesystem?.read)
  const write = union(a.filesystem?.write, b.filesystem?.write)
  if (network) out.network = network
  if (run) out.run = run
  if (env) out.env = env
  if (read || write) out.filesystem = { ...(read ? { read } : {}), ...(write ? { write } : {}) }
  return out
}

/**
 * INVALID_WORKFLOW naming every entry beyond the cap or not grantable at all (details: `issues`, `refusedBy`);
 * RUNTIME_UNAVAILABLE when the interpreter cannot be run here.
 */
export function scriptGrant(
  task: PluginCall & { interpreter: ScriptInterpreter },
  runner: RunnerKind,
  ctx: Omit<GrantContext, 'runner'>,
  /** The installed dependencies (sandbox/scripts/dependencies.ts): read-only, like the standard library. */
  dependencyDir?: string,
): ScriptGrant {
  const cap: SandboxPolicy = ctx.scripts?.policy ?? defaultScriptPolicy()
  const asked = task.permissions ?? {}
  const issues = checkGrant(asked, { ...ctx, runner, policy: cap, policyName: SCRIPT_POLICY })
  if (issues.length > 0) {
    throw new AppError(ErrorCode.InvalidWorkflow, `${task.interpreter === 'git' ? 'task' : 'script task'} ${task.id} asks for what it may not be granted: ${describeIssues(issues)}`,
      { issues, refusedBy: SCRIPT_POLICY })
  }
  const implicit = interpreterGrant(task.interpreter, runner.programs, ctx)
  const own: Permissions = dependencyDir === undefined ? implicit.grant
    : { ...implicit.grant, filesystem: { read: [...(implicit.grant.filesystem?.read ?? []), dependencyDir] } }
  const extended: SandboxPolicy = {
    ...cap,
    // The interpreter is the engine's choice on either runner (a pinned host path, or a name the image's lockdown
    // grants execution of: sandbox/sdk/lockdown.ts): within the cap like the task's own entries, never widening them.
    run: [...cap.run, ...(own.run ?? [])],
    filesystem: { read: [...cap.filesystem.read, ...(own.filesystem?.read ?? [])], write: cap.filesystem.write },
  }
  const checkCtx = { ...ctx, policy: extended, policyName: SCRIPT_POLICY }
  const ownIssues = checkGrant(own, { ...checkCtx, runner })
  if (ownIssues.length > 0) {
    throw new AppError(ErrorCode.RuntimeUnavailable, `script task ${task.id}: its interpreter cannot be granted here: ${describeIssues(ownIssues)}`, { issues: ownIssues })
  }
  return { grant: merge(asked, own), ...(implicit.program ? { program: implicit.program } : {}), ctx: checkCtx }
}

/**
 * The workflow issue a script task's refused grant is (what `apply` and `validate` report), or undefined for an
 * error that is not about its grant: RUNTIME_UNAVAILABLE at its `type`; at its `permissions`, SCRIPT_POLICY_EXCEEDED
 * when every refused entry is only beyond the cap, PERMISSIONS_REFUSED when one is not grantable at all.
 */
export function scriptGrantIssue(error: ErrorInfo): { field: 'type' | 'permissions'; code: IssueCode } | undefined {
  if (error.code === ErrorCode.RuntimeUnavailable) return { field: 'type', code: IssueCode.RuntimeUnavailable }
  if (error.code !== ErrorCode.InvalidWorkflow) return undefined
  const d = error.details as { refusedBy?: unknown; issues?: { beyondPolicy?: unknown }[] } | undefined
  if (d?.refusedBy !== SCRIPT_POLICY) return undefined
  const beyondCap = (d.issues ?? []).every((i) => i.beyondPolicy === true)
  return { field: 'permissions', code: beyondCap ? IssueCode.ScriptPolicyExceeded : IssueCode.PermissionsRefused }
}
