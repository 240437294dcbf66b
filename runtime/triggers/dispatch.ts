/** The code over a trigger registry: normalise, check, describe and render a workflow's triggers, whatever their types. */
import { IssueCode } from '../workflow/issues.ts'
import type { Segment } from '../workflow/path.ts'
import { schemaIssues, type RawIssue } from '../workflow/schema-issues.ts'
import { TRIGGER_TYPES, type Trigger, type TriggerDescription, type TriggerRegistry } from './registry.ts'
import type { TriggerCheckContext, TriggerDescribeContext, TriggerLines, TriggerRenderContext, TriggerType } from './types.ts'

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** The definition of a type name; own keys only (`constructor`, `__proto__` are no trigger type). */
function triggerTypeOf(name: unknown, registry: TriggerRegistry = TRIGGER_TYPES): TriggerType | undefined {
  return typeof name === 'string' && Object.hasOwn(registry, name) ? registry[name] : undefined
}

/** `cron or webhook`, `cron, webhook or toy`. */
function expectedTypes(registry: TriggerRegistry): string {
  const names = Object.keys(registry)
  return names.length <= 1 ? (names[0] ?? 'none') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`
}

/**
 * `triggers: [...]` and/or a single `trigger: {...}` (the single form comes first), each checked against its
 * type's schema and normalised by it. Returns the models and where each came from; problems go to `issues`.
 * A registry beyond `TRIGGER_TYPES` (a test's) yields models outside the static `Trigger` union.
 */
export function normalizeTriggers(
  raw: Record<string, unknown>, issues: RawIssue[], registry: TriggerRegistry = TRIGGER_TYPES,
): { triggers: Trigger[]; at: Segment[][] } {
  const items: [unknown, Segment[]][] = []
  if (raw.trigger !== undefined) items.push([raw.trigger, ['trigger']])
  if (Array.isArray(raw.triggers)) raw.triggers.forEach((t, i) => items.push([t, ['triggers', i]]))
  const out: { triggers: Trigger[]; at: Segment[][] } = { triggers: [], at: [] }
  for (const [t, at] of items) {
    if (!isMap(t)) {
      issues.push({ at, code: IssueCode.InvalidType, message: `expected a trigger (a map with type ${expectedTypes(registry)})` })
      continue
    }
    const def = triggerTypeOf(t.type, registry)
    if (!def) {
      issues.push(t.type === undefined
        ? { at: [...at, 'type'], code: IssueCode.Required, message: `"type" is required (${expectedTypes(registry)})` }
        : { at: [...at, 'type'], code: IssueCode.InvalidValue, message: `unknown trigger type ${JSON.stringify(t.type)} (expected ${expectedTypes(registry)})` })
      continue
    }
    issues.push(...schemaIssues(def.schema, t, at))
    const model = def.normalize(t)
    if (model === undefined) continue
    out.triggers.push(model as Trigger)
    out.at.push(at)
  }
  return out
}

/** Each trigger's own checks, at its source path: errors and warnings apart. */
export function checkTriggers(
  triggers: readonly { type: string }[], at: readonly Segment[][], ctx: TriggerCheckContext, registry: TriggerRegistry = TRIGGER_TYPES,
): { errors: RawIssue[]; warnings: RawIssue[] } {
  const errors: RawIssue[] = []
  const warnings: RawIssue[] = []
  triggers.forEach((t, k) => {
    const base = at[k] ?? ['triggers']
    for (const i of triggerTypeOf(t.type, registry)?.validate(t, ctx) ?? []) {
      // The built-in types report IssueCode values; a type added from a module may name its own code.
      ;(i.severity === 'error' ? errors : warnings).push({ at: [...base, ...i.at], code: i.code as IssueCode, message: i.message })
    }
  })
  return { errors, warnings }
}

/** One description per trigger, in declaration order; a type this registry does not know shows its name only. */
export function describeTriggers(
  triggers: readonly { type: string }[], ctx: TriggerDescribeContext, registry: TriggerRegistry = TRIGGER_TYPES,
): TriggerDescription[] {
  return triggers.map((t) => ({ type: t.type, ...triggerTypeOf(t.type, registry)?.describe(t, ctx) }) as TriggerDescription)
}

/** The text of a description (one from a newer server, of a type this registry lacks: its name only). */
export function renderTrigger(view: { type: string }, ctx: TriggerRenderContext, registry: TriggerRegistry = TRIGGER_TYPES): TriggerLines {
  return triggerTypeOf(view.type, registry)?.render(view, ctx) ?? { summary: '', details: [] }
}
