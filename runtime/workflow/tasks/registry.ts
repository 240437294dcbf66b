/**
 * The task kinds: the one place a kind is registered (its planning step is registered beside it, in
 * actors/execution/steps/registry.ts, which the compiler keeps complete). Kinds are found by name from
 * here; nothing else switches on a kind's name.
 */
import { Type, type TObject } from '@sinclair/typebox'
import type { TaskCommon } from '../model.ts'
import { COMMON_FIELDS } from './common.ts'
import type { PluginCall, TaskKind } from './kind.ts'
import { fileTemplates } from './files.ts'
import { approval } from './approval.ts'
import { bash } from './bash.ts'
import { docker } from './docker.ts'
import { gitSource } from './git-source.ts'
import { plugin } from './plugin.ts'
import { script } from './script.ts'
import { scriptRun } from './script-run.ts'
import { subflow } from './subflow.ts'
import { wait } from './wait.ts'

/** Every built-in kind, by name. The first is the default: a task naming no kind is checked as one. */
export const TASK_KINDS = { plugin, wait, approval, subflow, script, scriptRun, bash, docker, gitSource } as const satisfies Record<string, TaskKind>

export type TaskKindName = keyof typeof TASK_KINDS

/** A set of kinds to parse and plan with: the built-ins, or (in tests, for embedders) more. */
export type TaskKinds = Readonly<Record<string, TaskKind>>

/** The kind-specific part of a kind's tasks. */
export type SpecOf<K> = K extends TaskKind<infer S> ? S : never

/** A task of kind `N`. */
export type TaskDefOf<N extends TaskKindName> = TaskCommon & { kind: N } & SpecOf<(typeof TASK_KINDS)[N]>

/** A task, discriminated on `kind`: the union is derived from TASK_KINDS, never written out. */
export type TaskDef = { [N in TaskKindName]: TaskDefOf<N> }[TaskKindName]

/** Any task a kind set may produce (a kind outside TASK_KINDS included): what the generic code handles. */
export type AnyTaskDef = TaskCommon & { kind: string }

const schemas = new WeakMap<TaskKind, TObject>()

/** The full schema of a task of `kind`: the common fields and the kind's own, nothing else. */
export function taskSchema(kind: TaskKind): TObject {
  let s = schemas.get(kind)
  if (!s) schemas.set(kind, (s = Type.Object({ ...COMMON_FIELDS, ...kind.fields }, { additionalProperties: false })))
  return s
}

/** The kind of a task, from the kinds it was parsed with; undefined for a kind this set does not know. */
export function kindOf(task: AnyTaskDef, kinds: TaskKinds = TASK_KINDS): TaskKind | undefined {
  return Object.hasOwn(kinds, task.kind) ? kinds[task.kind] : undefined
}

/** The label task tables show: the kind's own (a plugin task's type), or the kind's name when unknown here. */
export function describeTask(task: AnyTaskDef, kinds: TaskKinds = TASK_KINDS): string {
  return kindOf(task, kinds)?.describe(task) ?? task.kind
}

/** The plugin actions a task calls that are known before it runs (none for a kind unknown here). */
export function pluginCallsOf(task: AnyTaskDef, kinds: TaskKinds = TASK_KINDS): PluginCall[] {
  return kindOf(task, kinds)?.pluginCalls(task) ?? []
}

/** The template-holding fields of a task, by field name (none for a kind unknown here). */
export function templatesOf(task: AnyTaskDef, kinds: TaskKinds = TASK_KINDS): Record<string, unknown> {
  const own = kindOf(task, kinds)?.templates(task) ?? {}
  return task.files?.inputs ? { ...own, ...fileTemplates(task.files) } : own
}
