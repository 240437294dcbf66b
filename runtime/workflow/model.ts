/** The normalised workflow model that parsing produces and the engine consumes. Plain data only. */

import type { TaskDef } from './tasks/registry.ts'
import type { TaskFiles } from './tasks/files.ts'

export type { Issue, IssueCode } from './issues.ts'
export type { PluginCall, TaskKind } from './tasks/kind.ts'
export type { PluginSpec } from './tasks/plugin.ts'
export type { AnyTaskDef, TaskDef, TaskDefOf, TaskKindName, TaskKinds } from './tasks/registry.ts'
import type { IsolationLevel, Permissions } from './sandbox-fields.ts'

export type InputType = 'string' | 'number' | 'boolean' | 'object' | 'array'

export interface InputDecl {
  name: string
  type: InputType
  required: boolean
  default?: unknown
  description?: string
}

// Each trigger type's model is defined beside its schema and checks (runtime/triggers/<type>.ts); `Trigger` is their union.
export type { CronTrigger } from '../triggers/cron.ts'
export type { WebhookTrigger } from '../triggers/webhook.ts'
export type { Trigger } from '../triggers/registry.ts'
import type { Trigger } from '../triggers/registry.ts'

export interface BackoffPolicy {
  type: 'fixed' | 'exponential'
  delayMs: number
  maxDelayMs?: number
}

export interface RetryPolicy {
  /** Retries after the first attempt: attempts = max + 1. */
  max: number
  backoff: BackoffPolicy
}

/** Permissions a task narrows its plugin to (never wider than the manifest): the manifest's schema. */
export type PermissionSet = Permissions

/**
 * What every task has, whatever its kind. A task is this plus `kind` (its name in TASK_KINDS) plus the
 * kind's own fields: `TaskDef`, the union derived in tasks/registry.ts.
 */
export interface TaskCommon {
  id: string
  needs: string[]
  retry?: RetryPolicy
  /** Per attempt. */
  timeoutMs?: number
  /**
   * A failure of this task (after its retries) does not fail the execution: the run is FAILED, its dependents run
   * as if it had succeeded (without an output), and the execution ends SUCCESS with reason ALLOWED_FAILURE.
   */
  allowFailure?: boolean
  /**
   * A CEL boolean (the text of a bare `if:`, or of its one `{{ … }}`), evaluated once when the task's needs are
   * done: false skips the task (CONDITION_FALSE). Absent: the task runs when its needs succeeded.
   */
  if?: string
  /**
   * A CEL list (the text of a bare `forEach:` or of its one `{{ … }}`), evaluated once when the task's needs are
   * done: the task runs once per element, as runs `<id>[i]`, with `item` and `index` in scope of its templates and
   * its `if:` (decided per iteration). Absent: one run.
   */
  forEach?: string
  /** With forEach: how many iterations run at once (default 1). */
  concurrency?: number
  /** `outputFiles:` and `inputFiles:` (tasks/files.ts, docs/files.md). */
  files?: TaskFiles
}

/** What a workflow does when a new execution would run more than `limit` at once (docs/workflows.md#concurrency). */
export type ConcurrencyBehavior = 'queue' | 'cancel-new' | 'cancel-oldest'

/** `concurrency:` — at most `limit` executions of the workflow hold a slot at once, across every engine on the store. */
export interface ConcurrencyPolicy {
  limit: number
  behavior: ConcurrencyBehavior
}

export interface Workflow {
  /** The DSL version it declares (`apiVersion: v1`); absent when it declares none (the same language). */
  apiVersion?: 'v1'
  id: string
  description?: string
  enabled: boolean
  inputs: InputDecl[]
  secrets: string[]
  triggers: Trigger[]
  timeoutMs?: number
  /** `key: value` strings every execution carries (merged under the labels given when it starts). */
  labels?: Record<string, string>
  concurrency?: ConcurrencyPolicy
  /** How much its plugin processes may be reused (a task's own `isolation:` wins; absent: `sandbox.isolation`). */
  isolation?: IsolationLevel
  /** In declaration order: the main DAG. */
  tasks: TaskDef[]
  /** Run when the main DAG has failed, before `finally` (run paths `onFailure/<id>`). */
  onFailure?: TaskDef[]
  /** Run once the main DAG (and `onFailure`) has ended by itself, failed or not (run paths `finally/<id>`). */
  finally?: TaskDef[]
  /**
   * The execution's outputs: name → a value whose strings may hold `{{ … }}` templates over the inputs, the
   * execution and the tasks (no secrets), rendered once every task is done and the execution succeeds.
   */
  outputs?: Record<string, unknown>
}

/** Splits `ns/plugin.action` into its parts. */
export function parseTaskType(type: string): { namespace: string; plugin: string; action: string } {
  const slash = type.indexOf('/')
  const dot = type.lastIndexOf('.')
  return { namespace: type.slice(0, slash), plugin: type.slice(slash + 1, dot), action: type.slice(dot + 1) }
}
