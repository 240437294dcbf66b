/**
 * Workflow DTOs. `toWorkflowDetail` is the single place the detail is built; a trigger owner extends
 * it through `WorkflowDtoHooks` (e.g. the cron scheduler adding next fire times) without touching routes.
 */
import type { WorkflowRecord } from '../../runtime/store/types.ts'
import type { Trigger, Workflow } from '../../runtime/workflow/model.ts'

/** One trigger as shown by the API; hooks may add `nextFireAt` (ms since epoch, soonest first). */
export interface TriggerDto {
  type: Trigger['type']
  cron?: string
  timezone?: string
  nextFireAt?: number[]
}

/** What lists show. */
export interface WorkflowSummary {
  id: string
  description?: string
  enabled: boolean
  revision: number
  tasks: number
  triggers: Trigger['type'][]
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

/** Extension points for other subsystems (passed to `createApp` as `workflowHooks`). */
export interface WorkflowDtoHooks {
  /** Adds to (or overrides) one trigger's DTO, e.g. `{ nextFireAt: [...] }` for a cron trigger. */
  trigger?: (record: WorkflowRecord, trigger: Trigger, index: number) => Partial<TriggerDto> | undefined
}

export function toWorkflowSummary(r: WorkflowRecord): WorkflowSummary {
  const s: WorkflowSummary = {
    id: r.id, enabled: r.enabled, revision: r.revision, tasks: r.workflow.tasks.length,
    triggers: r.workflow.triggers.map((t) => t.type), createdAt: r.createdAt, updatedAt: r.updatedAt,
  }
  if (r.workflow.description !== undefined) s.description = r.workflow.description
  return s
}

export function toWorkflowDetail(r: WorkflowRecord, hooks: WorkflowDtoHooks = {}): WorkflowDetail {
  const { triggers: _types, ...summary } = toWorkflowSummary(r)
  const triggers = r.workflow.triggers.map((t, i): TriggerDto => {
    const base: TriggerDto = t.type === 'cron'
      ? { type: 'cron', cron: t.cron, ...(t.timezone !== undefined ? { timezone: t.timezone } : {}) }
      : { type: t.type }
    return { ...base, ...hooks.trigger?.(r, t, i) }
  })
  const d: WorkflowDetail = { ...summary, source: r.source, workflow: r.workflow, triggers }
  if (r.webhookKey !== undefined) {
    d.webhook = { pathTemplate: `/api/v1/webhooks/${encodeURIComponent(r.id)}/{key}`, keyHint: r.webhookKey.hint, keyCreatedAt: r.webhookKey.createdAt }
  }
  return d
}
