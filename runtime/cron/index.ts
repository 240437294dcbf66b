/** Cron triggers: schedule arithmetic, the fire ledger, the scheduler and the trigger views. */

export { compileCron, dueTicks, missedTicks, nextFireTime, nextFireTimes, recentFireTimes } from './schedule.ts'
export type { CronPolicy, CronSpec, MissedOptions } from './schedule.ts'
export { hasFired, isDuplicateFire, lastFireAt, listFires, pruneFires, recordFire } from './fires.ts'
export type { CronFire } from './fires.ts'
export { createScheduler, FIRE_RETENTION_MS } from './scheduler.ts'
export type { CronEngine, Scheduler, SchedulerEvent, SchedulerOptions, SchedulerStats, TickRef } from './scheduler.ts'
export { describeTriggers, UPCOMING_FIRES, webhookPath } from './describe.ts'
export type { CronTriggerView, TriggerView, WebhookTriggerView } from './describe.ts'
