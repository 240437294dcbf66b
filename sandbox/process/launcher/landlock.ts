/** Landlock lives in the guest folder (sandbox/sdk/landlock.ts): the Docker guest applies it to itself too (sdk/lockdown.ts). */
export * from '../../sdk/landlock.ts'
export type { LandlockPathRule, LandlockPolicy } from '../../sdk/landlock.ts'
