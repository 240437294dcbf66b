/**
 * Workflow DTOs. `toWorkflowDetail` is the single place the detail is built; each trigger is described by its type's
 * definition (runtime/triggers/<type>.ts: next fire times for cron, the path template for webhooks), so a new
 * trigger type shows up here without an edit.
 */
import { systemClock, type Clock } from '../../runtime/clock.ts'
import type { WorkflowRecord, WorkflowRevision, WorkflowRevisionMeta } from '../../runtime/store/types.ts'
import { describeTriggers } from '../../runtime/triggers/dispatch.ts'
import type { TriggerDescription, TriggerRegistry, TriggerTypeName } from '../../runtime/triggers/registry.ts'
import { webhookPathTemplate } from '../../runtime/triggers/webhook.ts'
import type { ConcurrencyPolicy, Workflow } from '../../runtime/workflow/model.ts'

/** One trigger as shown by the API: `type` beside its type's description (cron: `cron`, `timezone?`, `nextFireAt`…). */
export type TriggerDto = TriggerDescription

/** One kept revision of a workflow, as `GET /workflows/:id/revisions` lists it. */
export interface RevisionSummary extends WorkflowRevisionMeta {
  /** The revision the workflow has now. */
  current: boolean
}
export type { WorkflowRevision }

/** What lists show. */
export interface WorkflowSummary {
  id: string
  description?: string
  enabled: boolean
  revision: number
  tasks: number
  triggers: TriggerTypeName[]
  /** The workflow's labels (each execution carries them). */
  labels?: Record<string, string>
  /** Its `concurrency: { limit, behavior }`, when it has one. */
  concurrency?: ConcurrencyPolicy
  createdAt: number
  updatedAt: number
}

/** What `GET /workflows/:id` shows: the summary, the YAML as applied, the parsed model and triggers. */
export interface WorkflowDetail extends Omit<WorkflowSummary, 'triggers'> {
  source: string
  workflow: Workflow
  triggers: TriggerDto[]
  /**
   * Present once a webhook key was minted. Never the key: it is stored hashed and shown only by the answer that
   * minted it (apply, `POST /workflows/:id/webhook/rotate`).
   */
  webhook?: WebhookKeyInfo
}

/** A webhook key as reads show it: that it exists, its hint and age, and where to POST. */
export interface WebhookKeyInfo {
  /** `POST` here with the key in place of `{key}`. */
  pathTemplate: string
  /** The key's first 4 characters, to tell which key a caller holds. */
  keyHint: string
  keyCreatedAt: number
}

/** How the detail is built (passed to `createApp` as `workflowHooks`): the clock descriptions read, the trigger types. */
export interface WorkflowDtoHooks {
  /** Default: the system clock. */
  clock?: Clock
  /** Default: every registered type (runtime/triggers/registry.ts); a test passes its own extension. */
  triggerTypes?: TriggerRegistry
}

export function toWorkflowSummary(r: WorkflowRecord): WorkflowSummary {
  const s: WorkflowSummary = {
    id: r.id, enabled: r.enabled, revision: r.revision, tasks: r.workflow.tasks.length,
    triggers: r.workflow.triggers.map((t) => t.type), createdAt: r.createdAt, updatedAt: r.updatedAt,
  }
  if (r.workflow.description !== undefined) s.description = r.workflow.description
  if (r.workflow.labels !== undefined) s.labels = r.workflow.labels
  if (r.workflow.concurrency !== undefined) s.concurrency = r.workflow.concurrency
  return s
}

export function toWorkflowDetail(r: WorkflowRecord, hooks: WorkflowDtoHooks = {}): WorkflowDetail {
  const { triggers: _types, ...summary } = toWorkflowSummary(r)
  const key = r.webhookKey ? { hint: r.webhookKey.hint, createdAt: r.webhookKey.createdAt } : undefined
  const triggers = describeTriggers(r.workflow.triggers, {
    workflowId: r.id, enabled: r.enabled, now: (hooks.clock ?? systemClock).now(), ...(key ? { webhookKey: key } : {}),
  }, hooks.triggerTypes)
  const d: WorkflowDetail = { ...summary, source: r.source, workflow: r.workflow, triggers }
  if (r.webhookKey !== undefined) {
    d.webhook = { pathTemplate: webhookPathTemplate(r.id), keyHint: r.webhookKey.hint, keyCreatedAt: r.webhookKey.createdAt }
  }
  return d
}
