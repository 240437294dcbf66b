/** The cron_fires ledger (storage). Cron arithmetic and the definition: runtime/triggers/; the scheduler: actors/triggers/. */

export { isDuplicateFire, lastFireAt, listFires, pruneFires, recordFire } from './fires.ts'
export type { CronFire } from './fires.ts'
