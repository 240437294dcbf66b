/** The cron_fires ledger (storage). Cron arithmetic and the definition: runtime/triggers/; the scheduler: actors/triggers/. */

export { hasFired, isDuplicateFire, lastFireAt, listFires, pruneFires, recordFire } from './fires.ts'
export type { CronFire } from './fires.ts'
export { describeTriggers, UPCOMING_FIRES, webhookPath } from './describe.ts'
export type { CronTriggerView, TriggerView, WebhookTriggerView } from './describe.ts'
