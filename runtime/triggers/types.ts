/** The trigger seam: what one trigger type defines — its YAML schema, how it normalises, validates and describes itself. */
import type { TSchema } from '@sinclair/typebox'
import type { Segment } from '../workflow/path.ts'

/** A problem a trigger type finds in one of its triggers; `at` is relative to the trigger (`['cron']`, or `[]` for the whole). */
export interface TriggerIssue {
  at: Segment[]
  code: string
  message: string
  /** Errors make the workflow invalid; warnings are reported beside a valid one. */
  severity: 'error' | 'warning'
}

/** What a trigger's checks may know of the workflow around it. */
export interface TriggerCheckContext {
  inputs: readonly { name: string; required: boolean; default?: unknown }[]
}

/** What a description may know of the stored workflow (not only its YAML). */
export interface TriggerDescribeContext {
  workflowId: string
  /** The stored record's flag: a disabled workflow never fires. */
  enabled: boolean
  /** Now, ms since epoch (from the injected clock). */
  now: number
  /** The workflow's webhook key, once minted: its hint and age only (the store keeps a digest, never the key). */
  webhookKey?: { hint: string; createdAt: number }
}

/** How a human reader (the CLI) formats what a description holds. */
export interface TriggerRenderContext {
  workflowId: string
  /** An instant (ms since epoch) for humans. */
  time(ms: number): string
  /** A path of the server's API as a full URL. */
  url(path: string): string
}

/** The lines `workflow get` prints for a trigger: `summary` after `trigger <type>`, then one per detail. */
export interface TriggerLines {
  summary: string
  details: string[]
}

/**
 * One trigger type. `T` is its normalised model (plain data, stored with the workflow), `V` its description
 * (plain JSON: the API's `triggers[i]` beside `type`, and what the CLI renders). Methods, not function-valued
 * properties, so a registry of different types is a `Record<string, TriggerType>`.
 */
export interface TriggerType<T extends { type: string } = { type: string }, V extends object = object> {
  /** The raw YAML shape, strict (an unknown field is an issue); its `type` is a literal of the registry key. */
  readonly schema: TSchema
  /** The model from the raw map, after the schema was checked (its issues already reported); undefined when none can be built. */
  normalize(raw: Record<string, unknown>): T | undefined
  /** Checks beyond the schema (an expression that does not parse, a zone that does not exist…). */
  validate(trigger: T, ctx: TriggerCheckContext): TriggerIssue[]
  /** Plain data about the trigger as stored: next fire times, where to call… */
  describe(trigger: T, ctx: TriggerDescribeContext): V
  /** The description as text for a terminal (the CLI guards and colours it). */
  render(view: V, ctx: TriggerRenderContext): TriggerLines
}
