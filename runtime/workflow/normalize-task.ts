/**
 * One task item → its model: finds the task's kind by the kind key it carries, checks the common and the
 * kind's fields (TypeBox), then normalises the common part and asks the kind for the rest.
 */
import { IssueCode } from './issues.ts'
import type { Segment } from './path.ts'
import { schemaIssues, type RawIssue } from './schema-issues.ts'
import { normalizeCommon } from './tasks/common.ts'
import type { TaskKind } from './tasks/kind.ts'
import { taskSchema, TASK_KINDS, type AnyTaskDef, type TaskKinds } from './tasks/registry.ts'

export { DEFAULT_BACKOFF_DELAY, durationAt } from './tasks/common.ts'

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** A normalised task plus where each `needs` entry came from; undefined when the item is not a map. */
export function normalizeTask(
  item: unknown,
  at: Segment[],
  issues: RawIssue[],
  kinds: TaskKinds = TASK_KINDS,
): { task: AnyTaskDef; needsAt: Segment[][] } | undefined {
  if (!isMap(item)) {
    issues.push({ at, code: IssueCode.InvalidType, message: 'expected a task (a map with id and type)' })
    return undefined
  }
  const [name, kind] = kindOfItem(item, at, issues, kinds)
  issues.push(...schemaIssues(taskSchema(kind), item, at))
  const { common, needsAt } = normalizeCommon(item, at, issues)
  return { task: { ...common, kind: name, ...kind.normalize(item, at, issues) }, needsAt }
}

/**
 * The kind a task names by its kind key. A task that names none is checked as the default kind (the first),
 * so its missing key is reported as REQUIRED by that kind's schema; one that names two gets
 * CONFLICTING_TASK_KINDS and is checked as the first it names.
 */
function kindOfItem(item: Record<string, unknown>, at: Segment[], issues: RawIssue[], kinds: TaskKinds): [string, TaskKind] {
  const entries = Object.entries(kinds)
  const named = entries.filter(([, k]) => Object.hasOwn(item, k.key))
  if (named.length > 1) {
    const [[firstName, first], [secondName, second]] = named as [[string, TaskKind], [string, TaskKind]]
    issues.push({
      at: [...at, second.key], atKey: true, code: IssueCode.ConflictingTaskKinds,
      message: `a task has one kind: "${first.key}" (${firstName}) and "${second.key}" (${secondName}) cannot both be given`,
    })
  }
  return named[0] ?? entries[0]!
}
