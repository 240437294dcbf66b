/**
 * `core/bash.exec` (docs/plugins.md#corebashexec), the seed project's shell task: a command line or a script in its
 * `inputs:`, run by bash or sh. Its author is the workflow's author, as a script's is, so it is a script in every
 * respect that matters: each attempt is a call of the built-in `core/script` plugin (action `exec`) with the code
 * passed verbatim and the shell as its interpreter, so its grant is the task's `permissions:` (programs in `run:`),
 * capped by the operator's `sandbox.scriptPolicy` (sandbox/scripts/grant.ts), with the logs, masking, timeout and
 * cancel of any plugin attempt.
 */
import { CATALOG_FIELDS, normalizeCatalog, type CatalogSpec } from './catalog-shape.ts'
import { isAbsolute, posix } from 'node:path'
import { ErrorCode } from '../../errors.ts'
import { IssueCode } from '../issues.ts'
import type { TaskCommon } from '../model.ts'
import type { Segment } from '../path.ts'
import type { RawIssue } from '../schema-issues.ts'
import { ENV_NAME_PATTERN } from '../schema.ts'
import type { PluginCall, TaskKind } from './kind.ts'

export const BASH_EXEC = 'core/bash.exec'
/** The plugin action a bash.exec attempt calls: core/script's, so it runs under the script grant rule. */
export const BASH_EXEC_ACTION = 'core/script.exec'

/**
 * What a failed command is, instead of PLUGIN_ERROR (docs/plugins.md#corebashexec); a bad cwd, env or code is
 * INVALID_TASK_INPUT; a shell the plugin could not start RUNTIME_UNAVAILABLE (bash.exec has no task `image:`).
 */
const OWN_CODES = [ErrorCode.CommandFailed, ErrorCode.CommandTimedOut, ErrorCode.InvalidTaskInput, ErrorCode.RuntimeUnavailable] as const

/** The fields of `inputs:` that hold code: given verbatim, never rendered (a `{{` in code would be an injection). */
const CODE_FIELDS = ['command', 'script'] as const
/** Variable names a command may not be given (the engine's protocol, the loader's and Bun's; as core/script's). */
const RESERVED_ENV = /^(AUTOKESTRA_|WORKFLOW_|LD_|DYLD_|BUN_|NODE_OPTIONS$)/

/** Its `inputs:` as the seed wrote them (code included, split off into the call's verbatim part), its runner and its grant. */
export type BashSpec = CatalogSpec<typeof BASH_EXEC>

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const isShell = (v: unknown): v is 'bash' | 'sh' => v === 'bash' || v === 'sh'

/** The call of `core/script.exec` one attempt makes: the code verbatim, the rest of the inputs as templates. */
export function bashCall(task: TaskCommon & BashSpec): PluginCall {
  const inputs: Record<string, unknown> = {}
  const verbatim: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(task.inputs)) ((CODE_FIELDS as readonly string[]).includes(k) ? verbatim : inputs)[k] = v
  const shell = task.inputs.shell
  const call: PluginCall = { id: task.id, type: BASH_EXEC_ACTION, inputs, verbatim, interpreter: isShell(shell) ? shell : 'bash', ownCodes: OWN_CODES }
  if (task.runner !== undefined) call.runner = task.runner
  if (task.permissions !== undefined) call.permissions = task.permissions
  if (task.timeoutMs !== undefined) call.timeoutMs = task.timeoutMs
  return call
}

/** `cwd` or `workspacePath`, when written as a plain string: relative without `..`, or absolute inside a granted path. */
function checkPath(task: BashSpec, field: 'cwd' | 'workspacePath', at: Segment[], issues: RawIssue[]): void {
  const v = task.inputs[field]
  if (typeof v !== 'string' || v.includes('{{')) return
  const where = [...at, 'inputs', field]
  if (v.split('/').includes('..')) {
    issues.push({ at: where, code: IssueCode.InvalidValue, message: `${field} "${v}" may not contain ".." (it is relative to the task's working directory)` })
    return
  }
  if (!isAbsolute(v)) return
  const fs = task.permissions?.filesystem
  const granted = [...(fs?.read ?? []), ...(fs?.write ?? [])].filter((p) => isAbsolute(p)).map((p) => posix.normalize(p))
  const path = posix.normalize(v)
  if (!granted.some((g) => path === g || path.startsWith(g.endsWith('/') ? g : `${g}/`))) {
    issues.push({ at: where, code: IssueCode.InvalidValue, message: `${field} "${v}" is outside the task's working directory and not under a path its permissions.filesystem grants` })
  }
}

export const bash: TaskKind<BashSpec> = {
  key: 'type',
  types: [BASH_EXEC],
  fields: CATALOG_FIELDS,

  normalize: (raw) => normalizeCatalog(BASH_EXEC, raw),

  validate(task, at, issues) {
    const given = CODE_FIELDS.filter((f) => task.inputs[f] !== undefined)
    if (given.length !== 1) {
      issues.push({
        at: [...at, 'inputs', ...(given.length > 1 ? ['script'] : [])], code: given.length > 1 ? IssueCode.InvalidValue : IssueCode.Required,
        message: `${BASH_EXEC} takes exactly one of inputs.command (one command line) or inputs.script (a multi-line script)`,
      })
    }
    for (const f of given) {
      const code = task.inputs[f]
      if (typeof code !== 'string') continue // the action's input schema names the type
      if (/\{\{[^}]*\}\}/.test(code)) {
        issues.push({ at: [...at, 'inputs', f], code: IssueCode.InvalidValue, message: `inputs.${f} is code, not a template: pass data through inputs.args or inputs.env (e.g. env: { NAME: "{{ inputs.name }}" } and "$NAME")` })
      }
    }
    if (typeof task.inputs.command === 'string' && /[\r\n]/.test(task.inputs.command.trimEnd())) {
      issues.push({ at: [...at, 'inputs', 'command'], code: IssueCode.InvalidValue, message: 'inputs.command is one command line; use inputs.script for several lines' })
    }
    const shell = task.inputs.shell
    if (shell !== undefined && !isShell(shell)) {
      issues.push({ at: [...at, 'inputs', 'shell'], code: IssueCode.InvalidValue, message: `inputs.shell must be written as bash or sh (the engine grants and pins the shell before the task runs)` })
    }
    const env = task.inputs.env
    if (isMap(env)) {
      for (const name of Object.keys(env)) {
        if (!ENV_NAME_PATTERN.test(name) || RESERVED_ENV.test(name)) {
          issues.push({ at: [...at, 'inputs', 'env', name], code: IssueCode.InvalidEnvName, message: `"${name}" is not a variable a command may be given (a variable name, not AUTOKESTRA_*, WORKFLOW_*, LD_*, DYLD_*, BUN_*, NODE_OPTIONS)` })
        }
      }
    }
    checkPath(task, 'workspacePath', at, issues)
    checkPath(task, 'cwd', at, issues)
  },

  // The code is not a template (see CODE_FIELDS): only the rest of the inputs are.
  templates: (task) => ({ inputs: Object.fromEntries(Object.entries(task.inputs).filter(([k]) => !(CODE_FIELDS as readonly string[]).includes(k))) }),
  describe: () => BASH_EXEC,
  pluginCalls: (task) => [bashCall(task)],
}
