/** Trigger extensions of the workflow detail: the next cron fire times (via `WorkflowDtoHooks`). */
import type { Clock } from '../../runtime/clock.ts'
import { UPCOMING_FIRES } from '../../runtime/cron/index.ts'
import { nextFireTimes } from '../../runtime/triggers/cron-schedule.ts'
import type { WorkflowDtoHooks } from './workflow-dto.ts'

/**
 * Adds `nextFireAt` (the next 5 fire times, ms since epoch, soonest first) to each cron trigger of the
 * workflow detail; empty while the workflow is disabled, since it will not fire.
 */
export function cronTriggerHooks(clock: Clock): WorkflowDtoHooks {
  return {
    trigger: (record, trigger) =>
      trigger.type === 'cron' ? { nextFireAt: record.enabled ? nextFireTimes(trigger, clock.now(), UPCOMING_FIRES) : [] } : undefined,
  }
}
