/**
 * What a workflow would fail on at run time, checked against the plugins this side has loaded: a task type no
 * plugin provides (UNKNOWN_TASK_TYPE), and static inputs that break the action's input schema (INVALID_TASK_INPUT:
 * a misspelt field, a missing required one, a wrong type). Values holding `{{ … }}` are only known at run time and
 * are left to the check each attempt makes then.
 */
import { ErrorCode, toErrorInfo } from '../../runtime/errors.ts'
import { IssueCode } from '../../runtime/workflow/issues.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import type { Segment } from '../../runtime/workflow/path.ts'
import type { RawIssue } from '../../runtime/workflow/schema-issues.ts'
import { pluginCallsOf, TASK_KINDS, type TaskKinds } from '../../runtime/workflow/tasks/registry.ts'
import type { PluginCall, ScriptInterpreter } from '../../runtime/workflow/tasks/kind.ts'
import type { GrantContext } from '../permissions/policy.ts'
import { runnerKind, runnerOf, type RunnerRegistry } from '../runners.ts'
import { scriptGrant, scriptGrantIssue } from '../scripts/grant.ts'
import { dockerGrant, dockerGrantIssue } from '../docker-tasks/grant.ts'
import { resolveAction, type PluginRegistry } from './registry.ts'
import { ActionSchemas } from './schemas.ts'

/**
 * What script tasks are checked against offline (`workflow validate`): the engine's grant context and runners. With
 * it, a script asking beyond `sandbox.scriptPolicy` or needing an interpreter this machine lacks is an issue here too.
 */
export interface ScriptChecks {
  grants: Omit<GrantContext, 'runner'>
  runners: RunnerRegistry
}

/** A `check` for parseWorkflow (runtime/workflow/parse.ts ParseOptions) over `registry`. */
export function pluginChecks(registry: PluginRegistry, kinds: TaskKinds = TASK_KINDS, schemas = new ActionSchemas(), scripts?: ScriptChecks) {
  return (wf: Workflow, taskAt: (k: number) => Segment[]): RawIssue[] => {
    const issues: RawIssue[] = []
    wf.tasks.forEach((task, k) => {
      const at = taskAt(k)
      for (const call of pluginCallsOf(task, kinds)) {
        let resolved
        try {
          resolved = resolveAction(registry, call.type)
        } catch (e) {
          const error = toErrorInfo(e)
          // A refused plugin is PLUGIN_REFUSED at apply, with the grant that refused it (actors/task/grant-view.ts).
          if (error.code === ErrorCode.PluginNotFound) issues.push({ at: [...at, 'type'], code: IssueCode.UnknownTaskType, message: error.message })
          continue
        }
        if (scripts && call.interpreter !== undefined) scriptIssues(call, call.interpreter, scripts, at, issues)
        if (scripts && call.engineAction === 'docker') dockerIssues(call, scripts, at, issues)
        const templated: string[] = []
        collectTemplated(call.inputs, '', templated)
        // The schema fills its defaults into what it checks: check a copy.
        const input = call.verbatim ? { ...call.inputs, ...call.verbatim } : call.inputs
        for (const i of schemas.checkKeyed(resolved.action, 'input', structuredClone(input))) {
          const structural = i.keyword === 'required' || i.keyword === 'additionalProperties'
          if (!structural && touches(i.path, templated)) continue
          const segments = i.path === '(root)' ? [] : toSegments(i.path)
          issues.push({
            at: [...at, 'inputs', ...segments], ...(i.keyword === 'additionalProperties' ? { atKey: true } : {}),
            code: IssueCode.InvalidTaskInput,
            message: `${segments.length ? `inputs.${i.path}` : 'inputs'} ${i.message} (input schema of ${call.type})`,
          })
        }
      }
    })
    return issues
  }
}

/** A script task's grant, as `apply` would judge it (sandbox/scripts/grant.ts). */
function scriptIssues(call: PluginCall, interpreter: ScriptInterpreter, scripts: ScriptChecks, at: Segment[], issues: RawIssue[]): void {
  try {
    scriptGrant({ ...call, interpreter }, runnerKind(scripts.runners, runnerOf(call, undefined)), scripts.grants)
  } catch (e) {
    const error = toErrorInfo(e)
    const issue = scriptGrantIssue(error)
    if (issue) issues.push({ at: [...at, issue.field], code: issue.code, message: error.message })
  }
}

/** A docker task's grant, as `apply` would judge it (sandbox/docker-tasks/grant.ts). */
function dockerIssues(call: PluginCall, scripts: ScriptChecks, at: Segment[], issues: RawIssue[]): void {
  try {
    dockerGrant(call, scripts.grants)
  } catch (e) {
    const error = toErrorInfo(e)
    const issue = dockerGrantIssue(error)
    if (issue) issues.push({ at: [...at, issue.field], code: issue.code, message: error.message })
  }
}

/** The paths (`a.b[0]`, as schema issues name them) of the strings in `v` that hold a template. */
function collectTemplated(v: unknown, at: string, out: string[]): void {
  if (typeof v === 'string') {
    if (v.includes('{{')) out.push(at === '' ? '(root)' : at)
  } else if (Array.isArray(v)) v.forEach((x, i) => collectTemplated(x, `${at}[${i}]`, out))
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) collectTemplated(x, at === '' ? k : `${at}.${k}`, out)
}

/** Whether an issue at `path` is about a templated value: at it, inside it, or around it (its parents). */
function touches(path: string, templated: readonly string[]): boolean {
  if (templated.length === 0) return false
  if (path === '(root)') return true
  const within = (a: string, b: string) => a === b || a.startsWith(`${b}.`) || a.startsWith(`${b}[`)
  return templated.some((t) => within(path, t) || within(t, path))
}

/** `owner.tags[0]` → ['owner', 'tags', 0]. */
function toSegments(path: string): Segment[] {
  const out: Segment[] = []
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!)
  return out
}
