/** Cron triggers: schedule arithmetic, the scheduler and the trigger views (the fire ledger is in the store). */

export { compileCron, dueTicks, missedTicks, nextFireTime, nextFireTimes, recentFireTimes } from './schedule.ts'
export type { CronPolicy, CronSpec, MissedOptions } from './schedule.ts'
export type { CronFire } from '../store/types.ts'
export { createScheduler, FIRE_RETENTION_MS } from './scheduler.ts'
export type { CronEngine, Scheduler, SchedulerEvent, SchedulerOptions, SchedulerStats, TickRef } from './scheduler.ts'
export { describeTriggers, UPCOMING_FIRES, webhookPath } from './describe.ts'
export type { CronTriggerView, TriggerView, WebhookTriggerView } from './describe.ts'
