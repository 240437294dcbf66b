/**
 * The `plugin` kind: a task that calls one plugin action out of process (`type: namespace/plugin.action`),
 * with its inputs, env mapping, runner and narrowed permissions. Today every task is one.
 */
import { Type } from '@sinclair/typebox'
import { IssueCode } from '../issues.ts'
import type { PermissionSet, TaskCommon } from '../model.ts'
import { IsolationSchema, ISOLATION_LEVELS, RunnerNameSchema, type IsolationLevel } from '../sandbox-fields.ts'
import { ENV_NAME_PATTERN, RawPermissions, TASK_TYPE_PATTERN } from '../schema.ts'
import type { PluginCall, TaskKind } from './kind.ts'

/** A plugin task's own fields. */
export interface PluginSpec {
  /** `namespace/plugin.action` */
  type: string
  inputs: Record<string, unknown>
  /** A runner name; the engine checks it against its runner registry (sandbox/runners.ts) when the workflow is applied. */
  runner?: string
  permissions?: PermissionSet
  /** Plugin env variable name → template (e.g. `{{ secrets.TOKEN }}`). */
  env?: Record<string, string>
  /** How much its plugin's processes may be reused (docs/engine.md#isolation-levels); wins over the workflow's. */
  isolation?: IsolationLevel
}

/**
 * Task types of the seed project's catalog that are another plugin's action here (docs/plugins.md#coreconsole):
 * the task keeps the type it was written with (tables, `workflow get`), its call runs the action it names.
 */
export const TYPE_ALIASES: Readonly<Record<string, string>> = { 'core/console.log': 'core/log.log' }

/** The plugin script tasks and core/bash.exec run on (sandbox/scripts/grant.ts): never a plugin task's. */
const SCRIPT_PLUGIN = 'core/script.'

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** The call a plugin task makes (what its step dispatches and what apply shows the grant of). */
export function pluginCall(task: TaskCommon & PluginSpec): PluginCall {
  // Assigned field by field (no spreads): apply builds one per task of a workflow on the server's main thread.
  const call: PluginCall = { id: task.id, type: Object.hasOwn(TYPE_ALIASES, task.type) ? TYPE_ALIASES[task.type]! : task.type, inputs: task.inputs }
  if (task.runner !== undefined) call.runner = task.runner
  if (task.permissions !== undefined) call.permissions = task.permissions
  if (task.env !== undefined) call.env = task.env
  if (task.timeoutMs !== undefined) call.timeoutMs = task.timeoutMs
  if (task.isolation !== undefined) call.isolation = task.isolation
  return call
}

/** The plugin kind: named by `type:`, as every task of v0.1 and v0.2 was. */
export const plugin: TaskKind<PluginSpec> = {
  key: 'type',
  fields: {
    type: Type.String(),
    inputs: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    runner: Type.Optional(RunnerNameSchema),
    permissions: Type.Optional(RawPermissions),
    env: Type.Optional(Type.Record(Type.String(), Type.String())),
    isolation: Type.Optional(IsolationSchema),
  },

  normalize(raw) {
    const spec: PluginSpec = { type: typeof raw.type === 'string' ? raw.type : '', inputs: isMap(raw.inputs) ? raw.inputs : {} }
    if (typeof raw.runner === 'string') spec.runner = raw.runner
    if (typeof raw.isolation === 'string' && (ISOLATION_LEVELS as readonly string[]).includes(raw.isolation)) spec.isolation = raw.isolation as IsolationLevel
    if (isMap(raw.permissions)) spec.permissions = raw.permissions as PermissionSet
    if (isMap(raw.env)) {
      spec.env = Object.fromEntries(Object.entries(raw.env).filter((e): e is [string, string] => typeof e[1] === 'string'))
    }
    return spec
  },

  validate(task, at, issues) {
    if (task.type !== '' && !TASK_TYPE_PATTERN.test(task.type)) {
      issues.push({ at: [...at, 'type'], code: IssueCode.InvalidTaskType, message: `invalid task type "${task.type}" (expected namespace/plugin.action)` })
    } else if (task.type.startsWith(SCRIPT_PLUGIN)) {
      // core/script's actions run only under the script grant rule, with the interpreter the engine pins; called by
      // name they would run on the manifest's grant with an interpreter the task names.
      issues.push({ at: [...at, 'type'], code: IssueCode.InvalidTaskType, message: `${task.type} is not called by name: write a script task (core/script.bun, .shell, .python), core/bash.exec or core/script.run` })
    }
    for (const name of Object.keys(task.env ?? {})) {
      if (!ENV_NAME_PATTERN.test(name)) issues.push({ at: [...at, 'env', name], code: IssueCode.InvalidEnvName, message: `invalid environment variable name "${name}"` })
    }
  },

  templates: (task) => ({ inputs: task.inputs, env: task.env ?? {} }),
  describe: (task) => task.type,
  pluginCalls: (task) => [pluginCall(task)],
}
