/** The normalised workflow model that parsing produces and the engine consumes. Plain data only. */

import type { Permissions } from './sandbox-fields.ts'

export type InputType = 'string' | 'number' | 'boolean' | 'object' | 'array'

export interface InputDecl {
  name: string
  type: InputType
  required: boolean
  default?: unknown
  description?: string
}

export interface CronTrigger {
  type: 'cron'
  cron: string
  timezone?: string
  /** What to do with ticks missed while the server was down. */
  missed: 'skip' | 'catchup'
  maxCatchup: number
}

export interface WebhookTrigger {
  type: 'webhook'
}

export type Trigger = CronTrigger | WebhookTrigger

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

export interface TaskDef {
  id: string
  /** `namespace/plugin.action` */
  type: string
  needs: string[]
  inputs: Record<string, unknown>
  retry?: RetryPolicy
  timeoutMs?: number
  /** A runner name; the engine checks it against its runner registry (sandbox/runners.ts) when the workflow is applied. */
  runner?: string
  permissions?: PermissionSet
  /** Plugin env variable name → template (e.g. `{{ secrets.TOKEN }}`). */
  env?: Record<string, string>
}

export interface Workflow {
  id: string
  description?: string
  enabled: boolean
  inputs: InputDecl[]
  secrets: string[]
  triggers: Trigger[]
  timeoutMs?: number
  /** In declaration order. */
  tasks: TaskDef[]
}

/** One validation problem, pointing at the offending path (and source position when known). */
export interface Issue {
  path: string
  code: string
  message: string
  line?: number
  column?: number
}

/** Splits `ns/plugin.action` into its parts. */
export function parseTaskType(type: string): { namespace: string; plugin: string; action: string } {
  const slash = type.indexOf('/')
  const dot = type.lastIndexOf('.')
  return { namespace: type.slice(0, slash), plugin: type.slice(slash + 1, dot), action: type.slice(dot + 1) }
}
