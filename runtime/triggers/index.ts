/** Public API of the trigger seam: the registry, each type's definition, and the code over them. */
export { TRIGGER_TYPES, type Trigger, type TriggerDescription, type TriggerRegistry, type TriggerTypeName } from './registry.ts'
export { checkTriggers, describeTriggers, normalizeTriggers, renderTrigger, triggerTypeOf } from './dispatch.ts'
export type { TriggerCheckContext, TriggerDescribeContext, TriggerIssue, TriggerLines, TriggerRenderContext, TriggerType } from './types.ts'
export { cron, cronProblem, isTimeZone, UPCOMING_FIRES, type CronTrigger, type CronTriggerView } from './cron.ts'
export { webhook, webhookPath, webhookPathTemplate, WEBHOOK_PATH_PREFIX, type WebhookTrigger, type WebhookTriggerView } from './webhook.ts'
export { compileCron, dueTicks, missedTicks, nextFireTime, nextFireTimes, recentFireTimes } from './cron-schedule.ts'
export type { CronPolicy, CronSpec, MissedOptions, MissedPolicy } from './cron-schedule.ts'
