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
  const [name, kind, conflicting] = kindOfItem(item, at, issues, kinds)
  // Another kind's key is already reported as the conflict; not again as an unknown field of this kind.
  const unknownKindKey = (i: RawIssue) => i.code === IssueCode.UnknownField && i.at.length === at.length + 1 && conflicting.includes(String(i.at[at.length]))
  for (const i of schemaIssues(taskSchema(kind), item, at)) {
    if (unknownKindKey(i)) continue
    // No kind named: the default kind's key is missing, and any kind's would do.
    const missingKind = i.code === IssueCode.Required && i.at.length === at.length + 1 && i.at[at.length] === kind.key && !Object.hasOwn(item, kind.key)
    issues.push(missingKind && Object.keys(kinds).length > 1 ? { ...i, message: `a task needs a kind: ${kindKeys(kinds)}` } : i)
  }
  const { common, needsAt } = normalizeCommon(item, at, issues)
  return { task: Object.assign(common, { kind: name }, kind.normalize(item, at, issues)), needsAt }
}

const kindEntries = new WeakMap<TaskKinds, [string, TaskKind][]>()

/** `"type" (plugin), "echo" (echo)`: each kind's key and name. */
const kindKeys = (kinds: TaskKinds) => Object.entries(kinds).filter(([, k]) => k.types === undefined).map(([name, k]) => `"${k.key}" (${name})`).join(' or ')

/**
 * The kind a task names by its kind key. A task that names none is checked as the default kind (the first),
 * so its missing key is reported as REQUIRED by that kind's schema; one that names two gets
 * CONFLICTING_TASK_KINDS and is checked as the first it names.
 */
function kindOfItem(item: Record<string, unknown>, at: Segment[], issues: RawIssue[], kinds: TaskKinds): [string, TaskKind, string[]] {
  let entries = kindEntries.get(kinds)
  if (!entries) kindEntries.set(kinds, (entries = Object.entries(kinds)))
  // Kinds that share a key are told apart by its value: one listing it in `types`, else the one listing none.
  const claimed = entries.some(([, k]) => k.types?.includes(item[k.key] as string) === true)
  const named = entries.filter(([, k]) => Object.hasOwn(item, k.key) && (k.types === undefined ? !claimed : k.types.includes(item[k.key] as string)))
  const [firstName, first] = named[0] ?? entries[0]!
  for (const [otherName, other] of named.slice(1)) {
    issues.push({
      at: [...at, other.key], atKey: true, code: IssueCode.ConflictingTaskKinds,
      message: `a task has one kind: "${first.key}" (${firstName}) and "${other.key}" (${otherName}) cannot both be given`,
    })
  }
  return [firstName, first, named.slice(1).map(([, k]) => k.key)]
}
