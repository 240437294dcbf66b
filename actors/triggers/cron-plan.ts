/** The scheduler's plan: one entry per cron trigger of each enabled workflow, with its cursor. */

import type { Cron } from 'croner'
import type { Store } from '../../runtime/store/store.ts'
import { compileCron } from '../../runtime/triggers/cron-schedule.ts'
import type { CronTrigger } from '../../runtime/workflow/model.ts'

export interface PlanEntry {
  workflowId: string
  triggerIndex: number
  trigger: CronTrigger
  cron: Cron
  /** Every tick at or before this instant has been dealt with (fired, skipped or left to another scheduler). */
  cursor: number
}

export type Plan = Map<string, PlanEntry>

/** Same key ⇔ same schedule: an edited expression, zone or policy starts a fresh entry. */
export const entryKey = (workflowId: string, index: number, t: CronTrigger): string =>
  JSON.stringify([workflowId, index, t.cron, t.timezone ?? '', t.missed, t.maxCatchup])

/**
 * Rebuilds the plan from the store's enabled workflows, keeping the cursor of unchanged entries. A new
 * entry starts from its last recorded fire, or from when the workflow last changed (applied, edited,
 * enabled) — whichever is later, so ticks while it was disabled are never caught up.
 */
export async function replan(store: Store, previous: Plan, onInvalid: (workflowId: string, index: number, e: unknown) => void): Promise<Plan> {
  const next: Plan = new Map()
  for (const rec of (await store.workflows.list({ enabled: true })).items) {
    for (const [index, t] of rec.workflow.triggers.entries()) {
      if (t.type !== 'cron') continue
      const key = entryKey(rec.id, index, t)
      const kept = previous.get(key)
      if (kept) {
        next.set(key, kept)
        continue
      }
      let cron: Cron
      try {
        cron = compileCron(t)
      } catch (e) {
        // parseWorkflow rejects these at apply time; a row written by an older version must not stop the others.
        onInvalid(rec.id, index, e)
        continue
      }
      const last = await store.cronFires.last(rec.id, index)
      next.set(key, { workflowId: rec.id, triggerIndex: index, trigger: t, cron, cursor: Math.max(last ?? -Infinity, rec.updatedAt) })
    }
  }
  return next
}

/** Entries in a stable order: declaration order within a workflow, workflows by id (determinism). */
export function orderedEntries(plan: Plan): PlanEntry[] {
  return [...plan.values()].sort((a, b) =>
    a.workflowId < b.workflowId ? -1 : a.workflowId > b.workflowId ? 1 : a.triggerIndex - b.triggerIndex)
}
