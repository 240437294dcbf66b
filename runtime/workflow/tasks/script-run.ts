/**
 * `core/script.run` (docs/plugins.md#corescriptrun), the seed project's JS/TS task: an inline script, an entry file,
 * or a whole package.json project (prestart, start, poststart), run by the engine's Bun as a child of the built-in
 * `core/script` plugin (action `run`). Its author is the workflow's, so it is a script in every respect that matters:
 * its grant is the task's `permissions:`, capped by `sandbox.scriptPolicy`; its dependencies are installed by the
 * engine outside the sandbox, into the script cache, before the attempt (sandbox/scripts/project-install.ts).
 */
import { CATALOG_FIELDS, normalizeCatalog, type CatalogSpec } from './catalog-shape.ts'
import { ErrorCode } from '../../errors.ts'
import { IssueCode } from '../issues.ts'
import type { TaskCommon } from '../model.ts'
import type { Segment } from '../path.ts'
import type { RawIssue } from '../schema-issues.ts'
import { ENV_NAME_PATTERN } from '../schema.ts'
import type { PluginCall, TaskKind } from './kind.ts'
import { NPM_PIN } from './script.ts'

export const SCRIPT_RUN = 'core/script.run'

/**
 * What a failed run is, instead of PLUGIN_ERROR: a non-zero exit or a timeout as core/bash.exec's, a bad source or
 * project INVALID_TASK_INPUT, a shell missing from the operator's image RUNTIME_UNAVAILABLE (no task image here).
 */
const OWN_CODES = [ErrorCode.CommandFailed, ErrorCode.CommandTimedOut, ErrorCode.InvalidTaskInput, ErrorCode.RuntimeUnavailable] as const

/** The seed's inputs, and the stream caps and `failOnError` core/bash.exec has: anything else is UNKNOWN_FIELD. */
const INPUTS = ['source', 'projectMode', 'runtime', 'install', 'lifecycle', 'entry', 'args', 'env', 'workingDir', 'timeoutMs',
  'failOnError', 'maxOutputBytes', 'maxOutputLines'] as const
const SOURCE_KEYS = ['type', 'language', 'content', 'path'] as const
const INSTALL_KEYS = ['enabled', 'tool', 'packages', 'command'] as const
const LIFECYCLE_KEYS = ['runPrestart', 'runStart', 'runPoststart'] as const
export const INSTALL_TOOLS = ['npm', 'pnpm', 'yarn', 'bun'] as const
export type InstallTool = (typeof INSTALL_TOOLS)[number]
/** Variable names a script may not be given (as core/bash.exec's). */
const RESERVED_ENV = /^(AUTOKESTRA_|WORKFLOW_|LD_|DYLD_|BUN_|NODE_OPTIONS$)/

/** Its `inputs:` as the seed wrote them (code included, split off into the call's verbatim part), its runner and its grant. */
export type ScriptRunSpec = CatalogSpec<typeof SCRIPT_RUN>

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const literal = (v: unknown): v is string => typeof v === 'string' && !v.includes('{{')

/** The call of `core/script.run` one attempt makes: the inline code verbatim, the rest of the inputs as templates. */
export function scriptRunCall(task: TaskCommon & ScriptRunSpec): PluginCall {
  const inputs: Record<string, unknown> = {}
  for (const k of INPUTS) if (task.inputs[k] !== undefined) inputs[k] = task.inputs[k]
  const verbatim: Record<string, unknown> = {}
  const source = task.inputs.source
  if (isMap(source)) {
    const { content, ...rest } = source
    inputs.source = rest
    if (content !== undefined) verbatim.content = content
  }
  const call: PluginCall = {
    id: task.id, type: SCRIPT_RUN, inputs, verbatim, interpreter: 'bun-run', ownCodes: OWN_CODES, projectInstall: true,
  }
  if (task.runner !== undefined) call.runner = task.runner
  if (task.permissions !== undefined) call.permissions = task.permissions
  if (task.timeoutMs !== undefined) call.timeoutMs = task.timeoutMs
  return call
}

/** A path written as a plain string: relative, without `..` (it is inside the task's working directory). */
function checkRelative(v: unknown, field: string, where: Segment[], issues: RawIssue[]): void {
  if (!literal(v)) return
  if (v.startsWith('/') || v.split('/').includes('..'))
    issues.push({ at: where, code: IssueCode.InvalidValue, message: `${field} "${v}" must be a relative path without ".." (it is inside the task's working directory)` })
}

function unknownKeys(map: Record<string, unknown>, known: readonly string[], where: Segment[], what: string, issues: RawIssue[]): void {
  for (const k of Object.keys(map)) {
    if (!known.includes(k)) issues.push({ at: [...where, k], atKey: true, code: IssueCode.UnknownField, message: `${what} has no field "${k}" (known: ${known.join(', ')})` })
  }
}

function checkSource(task: ScriptRunSpec, at: Segment[], issues: RawIssue[]): void {
  const where = [...at, 'inputs', 'source']
  const source = task.inputs.source
  if (!isMap(source)) {
    issues.push({ at: where, code: IssueCode.Required, message: `${SCRIPT_RUN} needs inputs.source: { type: inline, language: ts|js, content } or { type: local, path }` })
    return
  }
  unknownKeys(source, SOURCE_KEYS, where, 'inputs.source', issues)
  if (source.type === 'inline') {
    if (source.language !== 'ts' && source.language !== 'js')
      issues.push({ at: [...where, 'language'], code: IssueCode.InvalidValue, message: 'an inline source needs language: ts or js' })
    if (typeof source.content !== 'string' || source.content.trim() === '')
      issues.push({ at: [...where, 'content'], code: IssueCode.Required, message: 'an inline source needs its code in content' })
    else if (/\{\{[^}]*\}\}/.test(source.content))
      issues.push({ at: [...where, 'content'], code: IssueCode.InvalidValue, message: 'inputs.source.content is code, not a template: pass data through inputs.args or inputs.env' })
    if (source.path !== undefined) issues.push({ at: [...where, 'path'], code: IssueCode.InvalidValue, message: 'an inline source has no path (its code is in content)' })
    if (task.inputs.projectMode === true)
      issues.push({ at: [...at, 'inputs', 'projectMode'], code: IssueCode.InvalidValue, message: 'projectMode runs a package.json project: it needs source.type: local' })
  } else if (source.type === 'local') {
    if (typeof source.path !== 'string' || source.path === '')
      issues.push({ at: [...where, 'path'], code: IssueCode.Required, message: 'a local source needs path, the project directory relative to the task\'s working directory' })
    checkRelative(source.path, 'source.path', [...where, 'path'], issues)
    if (source.content !== undefined) issues.push({ at: [...where, 'content'], code: IssueCode.InvalidValue, message: 'a local source has no content (its code is in the files under path)' })
    if (task.inputs.projectMode !== true && task.inputs.entry === undefined)
      issues.push({ at: [...at, 'inputs', 'entry'], code: IssueCode.Required, message: 'a local source needs entry (a file to run) unless projectMode is true' })
  } else if (!(typeof source.type === 'string' && source.type.includes('{{'))) {
    issues.push({ at: [...where, 'type'], code: IssueCode.InvalidValue, message: `source.type must be inline or local${source.type === 'git' ? ' (a repository: core/git-source.checkout first, then source.type: local)' : ''}` })
  }
}

function checkInstall(task: ScriptRunSpec, at: Segment[], issues: RawIssue[]): void {
  const install = task.inputs.install
  if (!isMap(install)) return
  const where = [...at, 'inputs', 'install']
  unknownKeys(install, INSTALL_KEYS, where, 'inputs.install', issues)
  if (install.command !== undefined) {
    issues.push({ at: [...where, 'command'], code: IssueCode.InvalidValue, message: 'install.command is not supported: the engine installs outside the sandbox, with its own rights and network, and runs no command a workflow writes there (list packages, or let it install the project\'s package.json)' })
  }
  if (literal(install.tool) && !(INSTALL_TOOLS as readonly string[]).includes(install.tool))
    issues.push({ at: [...where, 'tool'], code: IssueCode.InvalidValue, message: `install.tool must be one of ${INSTALL_TOOLS.join(', ')}` })
  if (Array.isArray(install.packages)) {
    install.packages.forEach((p, i) => {
      if (literal(p) && !NPM_PIN.test(p)) issues.push({ at: [...where, 'packages', i], code: IssueCode.InvalidValue, message: `"${p}" is not an exact npm pin (name@1.2.3, or name@file:/path/pkg.tgz)` })
    })
  }
}

export const scriptRun: TaskKind<ScriptRunSpec> = {
  key: 'type',
  types: [SCRIPT_RUN],
  fields: CATALOG_FIELDS,

  normalize: (raw) => normalizeCatalog(SCRIPT_RUN, raw),

  validate(task, at, issues) {
    unknownKeys(task.inputs, INPUTS, [...at, 'inputs'], SCRIPT_RUN, issues)
    checkSource(task, at, issues)
    checkInstall(task, at, issues)
    const { runtime, lifecycle, env } = task.inputs
    if (literal(runtime) && !['auto', 'bun', 'tsx'].includes(runtime))
      issues.push({ at: [...at, 'inputs', 'runtime'], code: IssueCode.InvalidValue, message: 'runtime must be auto, bun or tsx (each runs on the engine\'s Bun)' })
    if (isMap(lifecycle)) unknownKeys(lifecycle, LIFECYCLE_KEYS, [...at, 'inputs', 'lifecycle'], 'inputs.lifecycle', issues)
    if (isMap(env)) {
      for (const name of Object.keys(env)) {
        if (!ENV_NAME_PATTERN.test(name) || RESERVED_ENV.test(name))
          issues.push({ at: [...at, 'inputs', 'env', name], code: IssueCode.InvalidEnvName, message: `"${name}" is not a variable a script may be given (a variable name, not AUTOKESTRA_*, WORKFLOW_*, LD_*, DYLD_*, BUN_*, NODE_OPTIONS)` })
      }
    }
    checkRelative(task.inputs.entry, 'entry', [...at, 'inputs', 'entry'], issues)
    checkRelative(task.inputs.workingDir, 'workingDir', [...at, 'inputs', 'workingDir'], issues)
  },

  // The inline code is not a template (a `{{` in code is code): only the rest of the inputs are.
  templates: (task) => ({ inputs: scriptRunCall(task).inputs }),
  describe: () => SCRIPT_RUN,
  pluginCalls: (task) => [scriptRunCall(task)],
}
