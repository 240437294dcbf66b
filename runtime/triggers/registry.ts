/**
 * The trigger types, registered in one place. Adding one is its module here plus one line below (plus its live
 * loop in actors/triggers/loops.ts if it has one); every union of names and models is derived from this object.
 */
import { cron } from './cron.ts'
import type { TriggerType } from './types.ts'
import { webhook } from './webhook.ts'

export const TRIGGER_TYPES = { cron, webhook } as const satisfies Record<string, TriggerType>

/** Any registry of trigger types: `TRIGGER_TYPES`, or a test's extension of it. */
export type TriggerRegistry = Readonly<Record<string, TriggerType>>

/** `cron | webhook`. */
export type TriggerTypeName = keyof typeof TRIGGER_TYPES

type Def<K extends TriggerTypeName> = (typeof TRIGGER_TYPES)[K]

/** A trigger of the workflow model: the union of every registered type's model. */
export type Trigger = { [K in TriggerTypeName]: NonNullable<ReturnType<Def<K>['normalize']>> }[TriggerTypeName]

/** A trigger as the API describes it: its type beside that type's description. */
export type TriggerDescription = { [K in TriggerTypeName]: { type: K } & ReturnType<Def<K>['describe']> }[TriggerTypeName]
