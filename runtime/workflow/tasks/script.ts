/**
 * The `script` kind: inline code run in the plugin sandbox (docs/scripts.md). Spelt like a plugin task whose type
 * is one of `core/script.bun`, `core/script.shell`, `core/script.python`, with the code on the task (`script:`, or
 * `commands:` for a shell) and the data in `inputs:`. Each attempt is a call of the built-in `core/script` plugin, so
 * logs, masking, timeouts, retries and cancel are a plugin's; what differs is the grant: the task's `permissions:`
 * are the script's whole grant (default: none), capped by the operator's `sandbox.scriptPolicy`.
 */
import { Type } from '@sinclair/typebox'
import { ErrorCode } from '../../errors.ts'
import { IssueCode } from '../issues.ts'
import type { PermissionSet, TaskCommon } from '../model.ts'
import { RunnerNameSchema } from '../sandbox-fields.ts'
import { ENV_NAME_PATTERN, RawPermissions } from '../schema.ts'
import type { PluginCall, ScriptInterpreter, TaskKind } from './kind.ts'

/** The script types, each with what its code runs on (a shell task picks `sh` or `bash` with `shell:`). */
export const SCRIPT_TYPES = {
  'core/script.bun': 'bun',
  'core/script.shell': 'sh',
  'core/script.python': 'python',
} as const satisfies Record<string, ScriptInterpreter>

export type ScriptType = keyof typeof SCRIPT_TYPES

/** `name@1.2.3`, `@scope/name@1.2.3-rc.1`, or `name@file:/abs/pkg.tgz` (a local tarball, pinned by its content). */
export const NPM_PIN = /^((?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*)@(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?|file:\/\S+\.tgz)$/
/**
 * `name==1.2.3` (a PEP 440 version), or an absolute path to a wheel (pinned by its content). Never an sdist: building
 * one runs its setup code, and the installer runs outside the sandbox.
 */
export const PIP_PIN = /^(?:[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[A-Za-z0-9,._-]+\])?==[0-9][0-9A-Za-z.!+-]*|\/\S+\.whl)$/

/**
 * A Docker image reference as the engine resolves it locally: `name[:tag][@sha256:…]` (name components lower-case,
 * an optional `host[:port]/` first), or an image ID (`sha256:<64 hex>`). Never a template: apply checks it exists.
 */
export const IMAGE_REF = /^(?:sha256:[a-f0-9]{64}|(?:[a-zA-Z0-9][a-zA-Z0-9.-]*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?)$/

/** Why a dependency entry is not an exact pin for `type`, or undefined when it is one. */
function pinProblem(type: ScriptType, entry: string): string | undefined {
  if (type === 'core/script.bun') return NPM_PIN.test(entry) ? undefined : `"${entry}" is not an exact npm pin (name@1.2.3, or name@file:/path/pkg.tgz)`
  if (type === 'core/script.python') return PIP_PIN.test(entry) ? undefined : `"${entry}" is not an exact pip pin (name==1.2.3, or /path/pkg.whl; wheels only)`
  return 'dependencies apply to core/script.bun and core/script.python'
}

/** A script task's own fields. */
export interface ScriptSpec {
  type: ScriptType
  /** The code (bun, python); a shell task's `commands`, one per line. Never a template. */
  script: string
  /** Data for the code: templates, rendered when the attempt starts. */
  inputs: Record<string, unknown>
  /** A shell task's shell (default `sh`). */
  shell?: 'sh' | 'bash'
  runner?: string
  /**
   * The Docker image its container is made from (runner `docker` only; default `sandbox.dockerImage`): present on the
   * engine's Docker, never pulled. It must hold Bun (the script plugin) and the task's interpreter on its PATH.
   */
  image?: string
  /** The script's whole grant (nothing when absent), within `sandbox.scriptPolicy`. */
  permissions?: PermissionSet
  /** Variable name → template (e.g. `{{ secrets.TOKEN }}`), for names `permissions.env` grants. */
  env?: Record<string, string>
  /** npm (bun) or pip (python) packages, each an exact pin: installed by the engine, read-only to the script. */
  dependencies?: string[]
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const isScriptType = (t: unknown): t is ScriptType => typeof t === 'string' && Object.hasOwn(SCRIPT_TYPES, t)

/** What a script task's code runs on. */
export const interpreterOf = (task: Pick<ScriptSpec, 'type' | 'shell'>): ScriptInterpreter =>
  task.type === 'core/script.shell' ? (task.shell ?? 'sh') : SCRIPT_TYPES[task.type]

/** What a shell or Python script's failure keeps as its own code: its interpreter missing (docs/scripts.md). */
const INTERPRETER_CODES = [ErrorCode.RuntimeUnavailable] as const

/** The call of the `core/script` plugin one attempt makes. */
export function scriptCall(task: TaskCommon & ScriptSpec): PluginCall {
  const call: PluginCall = {
    id: task.id, type: task.type, inputs: { inputs: task.inputs },
    verbatim: { script: task.script }, interpreter: interpreterOf(task),
  }
  // A shell or Python the plugin could not start is the engine's word where the engine's Bun runs the engine's plugin
  // (the host, the operator's image); in a task's own `image:` the image's `bun` runs it and may write any result.
  if (call.interpreter !== 'bun' && task.image === undefined) call.ownCodes = INTERPRETER_CODES
  if (task.runner !== undefined) call.runner = task.runner
  if (task.image !== undefined) call.image = task.image
  if (task.permissions !== undefined) call.permissions = task.permissions
  if (task.env !== undefined) call.env = task.env
  if (task.timeoutMs !== undefined) call.timeoutMs = task.timeoutMs
  if (task.dependencies?.length) call.dependencies = task.dependencies
  return call
}

export const script: TaskKind<ScriptSpec> = {
  key: 'type',
  types: Object.keys(SCRIPT_TYPES),
  fields: {
    type: Type.String(),
    script: Type.Optional(Type.String()),
    commands: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
    shell: Type.Optional(Type.Union([Type.Literal('sh'), Type.Literal('bash')])),
    inputs: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    runner: Type.Optional(RunnerNameSchema),
    image: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    permissions: Type.Optional(RawPermissions),
    env: Type.Optional(Type.Record(Type.String(), Type.String())),
    dependencies: Type.Optional(Type.Array(Type.String(), { maxItems: 100 })),
  },

  normalize(raw, at, issues) {
    const type = isScriptType(raw.type) ? raw.type : 'core/script.bun'
    const shellTask = type === 'core/script.shell'
    const [code, other] = shellTask ? ['commands', 'script'] : ['script', 'commands']
    if (raw[other] !== undefined) {
      issues.push({ at: [...at, other], atKey: true, code: IssueCode.UnknownField, message: `${type} takes its code in "${code}", not "${other}"` })
    }
    if (raw.shell !== undefined && !shellTask) {
      issues.push({ at: [...at, 'shell'], atKey: true, code: IssueCode.UnknownField, message: `"shell" applies to core/script.shell only` })
    }
    const text = Array.isArray(raw[code]) ? (raw[code] as unknown[]).filter((c) => typeof c === 'string').join('\n') : raw[code]
    if (typeof text !== 'string' || text.trim() === '') {
      issues.push({ at: [...at, code], code: IssueCode.Required, message: `${type} needs its code in "${code}"` })
    }
    const spec: ScriptSpec = { type, script: typeof text === 'string' ? text : '', inputs: isMap(raw.inputs) ? raw.inputs : {} }
    if (shellTask && (raw.shell === 'sh' || raw.shell === 'bash')) spec.shell = raw.shell
    if (typeof raw.runner === 'string') spec.runner = raw.runner
    if (typeof raw.image === 'string') spec.image = raw.image
    if (isMap(raw.permissions)) spec.permissions = raw.permissions as PermissionSet
    if (isMap(raw.env)) spec.env = Object.fromEntries(Object.entries(raw.env).filter((e): e is [string, string] => typeof e[1] === 'string'))
    if (Array.isArray(raw.dependencies)) spec.dependencies = raw.dependencies.filter((d): d is string => typeof d === 'string')
    return spec
  },

  validate(task, at, issues) {
    if (task.image !== undefined) {
      // Which runners take an image is the engine's registry (checked at apply); the default runner never does.
      if (task.runner === undefined || task.runner === 'process') {
        issues.push({ at: [...at, 'image'], code: IssueCode.InvalidValue, message: `"image" needs a runner that runs containers (runner: docker); this task runs on the ${task.runner ?? 'default (process)'} runner` })
      } else if (!IMAGE_REF.test(task.image)) {
        issues.push({ at: [...at, 'image'], code: IssueCode.InvalidValue, message: `"${task.image}" is not a Docker image reference (name[:tag][@sha256:…], or sha256:<id>)` })
      }
    }
    task.dependencies?.forEach((entry, i) => {
      const problem = pinProblem(task.type, entry)
      if (problem) issues.push({ at: [...at, 'dependencies', ...(task.type === 'core/script.shell' ? [] : [i])], code: IssueCode.InvalidValue, message: problem })
    })
    for (const name of Object.keys(task.env ?? {})) {
      if (!ENV_NAME_PATTERN.test(name)) issues.push({ at: [...at, 'env', name], code: IssueCode.InvalidEnvName, message: `invalid environment variable name "${name}"` })
    }
  },

  // The code is not a template: data reaches it through `inputs` (an expression spliced into code is an injection).
  templates: (task) => ({ inputs: task.inputs, env: task.env ?? {} }),
  describe: (task) => task.type,
  pluginCalls: (task) => [scriptCall(task)],
}
