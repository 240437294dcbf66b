/** Plain-data description of a workflow's triggers for `workflow get`: next cron fires, webhook path. */

import type { Workflow } from '../workflow/model.ts'
import { nextFireTimes } from '../triggers/cron-schedule.ts'

/** How many upcoming fire times `describeTriggers` lists per cron trigger. */
export const UPCOMING_FIRES = 5

export interface CronTriggerView {
  index: number
  type: 'cron'
  cron: string
  /** IANA name; UTC when the workflow gives none. */
  timezone: string
  missed: 'skip' | 'catchup'
  maxCatchup: number
  /** ISO-8601 UTC instants, ascending. Empty when the workflow is disabled. */
  nextFires: string[]
}

export interface WebhookTriggerView {
  index: number
  type: 'webhook'
  /** `POST` here; absent until the workflow is applied (the key is minted at apply time). */
  path?: string
}

export type TriggerView = CronTriggerView | WebhookTriggerView

/** The URL path a webhook trigger listens on (relative to the server's base URL). */
export function webhookPath(workflowId: string, key: string): string {
  return `/api/v1/webhooks/${encodeURIComponent(workflowId)}/${encodeURIComponent(key)}`
}

/**
 * One view per trigger, in declaration order. A disabled workflow lists no upcoming fires (it never
 * fires); `enabled` defaults to the workflow's own flag — pass the stored record's when it differs.
 */
export function describeTriggers(
  workflow: Workflow, now: number, webhookKey?: string, enabled: boolean = workflow.enabled,
): TriggerView[] {
  return workflow.triggers.map((t, index): TriggerView => {
    if (t.type === 'webhook') {
      return webhookKey ? { index, type: 'webhook', path: webhookPath(workflow.id, webhookKey) } : { index, type: 'webhook' }
    }
    const nextFires = enabled ? nextFireTimes(t, now, UPCOMING_FIRES).map((ms) => new Date(ms).toISOString()) : []
    return { index, type: 'cron', cron: t.cron, timezone: t.timezone ?? 'UTC', missed: t.missed, maxCatchup: t.maxCatchup, nextFires }
  })
}
