/** Structure check (TypeBox, piece by piece) and normalisation of a raw workflow into the model. */
import { ISOLATION_LEVELS, type IsolationLevel } from './sandbox-fields.ts'
import { normalizeTriggers } from '../triggers/dispatch.ts'
import type { TriggerRegistry } from '../triggers/registry.ts'
import { IssueCode } from './issues.ts'
import { normalizeLabels } from './labels.ts'
import type { ConcurrencyPolicy, InputDecl, InputType, TaskDef, Workflow } from './model.ts'
import { TASK_KINDS, type TaskKinds } from './tasks/registry.ts'
import { durationAt, normalizeTask } from './normalize-task.ts'
import type { Segment } from './path.ts'
import { schemaIssues, type RawIssue } from './schema-issues.ts'
import { API_VERSIONS, RawConcurrency, RawInputItem, RawInputSpec, RawWorkflow, SECRET_NAME_PATTERN, type ApiVersion } from './schema.ts'

/** Where each normalised item came from in the source, so semantic issues can point at it. */
export interface Sources {
  inputs: Segment[][]
  triggers: Segment[][]
  tasks: Segment[][]
  /** Per task, per entry of `needs`. */
  needs: Segment[][][]
  /** `tasks` was given as an empty list. */
  tasksEmpty: boolean
  /** The same for the `onFailure` and `finally` lists. */
  lists: Record<'onFailure' | 'finally', { tasks: Segment[][]; needs: Segment[][][] }>
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const INPUT_TYPES: readonly string[] = ['string', 'number', 'boolean', 'object', 'array']

/** Checks structure and builds the best workflow it can, so semantic checks can still run on the rest. */
export function normalizeWorkflow(raw: unknown, kinds: TaskKinds = TASK_KINDS, triggerTypes?: TriggerRegistry): { workflow?: Workflow; sources: Sources; issues: RawIssue[] } {
  const sources: Sources = {
    inputs: [], triggers: [], tasks: [], needs: [], tasksEmpty: false,
    lists: { onFailure: { tasks: [], needs: [] }, finally: { tasks: [], needs: [] } },
  }
  if (!isMap(raw)) {
    return { sources, issues: [{ at: [], code: IssueCode.InvalidType, message: 'expected a workflow (a map with id and tasks)' }] }
  }
  const issues = schemaIssues(RawWorkflow, raw)
  const workflow: Workflow = {
    id: typeof raw.id === 'string' ? raw.id : '',
    enabled: typeof raw.enabled === 'boolean' ? raw.enabled : true,
    inputs: normalizeInputs(raw.inputs, sources, issues),
    secrets: normalizeSecrets(raw.secrets, issues),
    triggers: triggersOf(raw, sources, issues, triggerTypes),
    tasks: [],
  }
  const apiVersion = apiVersionOf(raw, issues)
  if (apiVersion !== undefined) workflow.apiVersion = apiVersion
  if (typeof raw.description === 'string') workflow.description = raw.description
  if (isMap(raw.outputs)) workflow.outputs = raw.outputs
  const timeoutMs = durationAt(raw.timeout, ['timeout'], issues)
  if (timeoutMs !== undefined) workflow.timeoutMs = timeoutMs
  const labels = normalizeLabels(raw.labels, ['labels'], issues)
  if (Object.keys(labels).length > 0) workflow.labels = labels
  const concurrency = normalizeConcurrency(raw.concurrency, issues)
  if (concurrency) workflow.concurrency = concurrency
  if (typeof raw.isolation === 'string' && (ISOLATION_LEVELS as readonly string[]).includes(raw.isolation)) workflow.isolation = raw.isolation as IsolationLevel
  if (Array.isArray(raw.tasks)) {
    sources.tasksEmpty = raw.tasks.length === 0
    workflow.tasks = taskList(raw.tasks, 'tasks', sources, issues, kinds)
  }
  for (const list of ['onFailure', 'finally'] as const) {
    const items = raw[list]
    if (Array.isArray(items) && items.length > 0) workflow[list] = taskList(items, list, sources.lists[list], issues, kinds)
  }
  return { workflow, sources, issues }
}

/** `apiVersion:` when it names a version this engine reads; anything else is INVALID_VALUE naming the supported ones. */
function apiVersionOf(raw: Record<string, unknown>, issues: RawIssue[]): ApiVersion | undefined {
  const v = raw.apiVersion
  if (v === undefined) return undefined
  if (typeof v === 'string' && (API_VERSIONS as readonly string[]).includes(v)) return v as ApiVersion
  const shown = typeof v === 'string' ? `"${v}"` : JSON.stringify(v) ?? String(v)
  issues.push({ at: ['apiVersion'], code: IssueCode.InvalidValue, message: `unsupported apiVersion ${shown} (supported: ${API_VERSIONS.join(', ')})` })
  return undefined
}

/** One list of task items → tasks, recording where each task and each of its needs came from. */
function taskList(items: unknown[], list: string, into: { tasks: Segment[][]; needs: Segment[][][] }, issues: RawIssue[], kinds: TaskKinds): TaskDef[] {
  const out: TaskDef[] = []
  items.forEach((item, i) => {
    const r = normalizeTask(item, [list, i], issues, kinds)
    if (!r) return
    // A kind outside TASK_KINDS (an injected one) yields a task the TaskDef union does not name; the engine
    // handles it through the same kind set.
    out.push(r.task as TaskDef)
    into.tasks.push([list, i])
    into.needs.push(r.needsAt)
  })
  return out
}

/** `concurrency: { limit, behavior? }`; behavior defaults to `queue` (Kestra's default, QUEUE). */
function normalizeConcurrency(raw: unknown, issues: RawIssue[]): ConcurrencyPolicy | undefined {
  if (raw === undefined || raw === null) return undefined
  if (!isMap(raw)) {
    issues.push({ at: ['concurrency'], code: IssueCode.InvalidType, message: 'concurrency must be a map: { limit: 1, behavior: queue | cancel-new | cancel-oldest }' })
    return undefined
  }
  const found = schemaIssues(RawConcurrency, raw, ['concurrency'])
  issues.push(...found)
  if (found.length > 0) return undefined
  const c = raw as { limit: number; behavior?: ConcurrencyPolicy['behavior'] }
  return { limit: c.limit, behavior: c.behavior ?? 'queue' }
}

/** Accepts both `[{name, type, ...}]` and `{name: {type, ...}}`. */
function normalizeInputs(value: unknown, sources: Sources, issues: RawIssue[]): InputDecl[] {
  const out: InputDecl[] = []
  const add = (name: string, spec: Record<string, unknown>, at: Segment[]) => {
    if (typeof spec.type !== 'string' || !INPUT_TYPES.includes(spec.type)) return
    const decl: InputDecl = { name, type: spec.type as InputType, required: spec.required === true }
    if ('default' in spec) decl.default = spec.default
    if (typeof spec.description === 'string') decl.description = spec.description
    out.push(decl)
    sources.inputs.push(at)
  }
  if (value === undefined || value === null) return out
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const at: Segment[] = ['inputs', i]
      if (!isMap(item)) return issues.push({ at, code: IssueCode.InvalidType, message: 'expected an input (a map with name and type)' })
      issues.push(...schemaIssues(RawInputItem, item, at))
      if (typeof item.name === 'string') add(item.name, item, at)
    })
  } else if (isMap(value)) {
    for (const [name, spec] of Object.entries(value)) {
      const at: Segment[] = ['inputs', name]
      if (!isMap(spec)) {
        issues.push({ at, code: IssueCode.InvalidType, message: 'expected an input (a map with type)' })
        continue
      }
      issues.push(...schemaIssues(RawInputSpec, spec, at))
      add(name, spec, at)
    }
  } else {
    issues.push({ at: ['inputs'], code: IssueCode.InvalidType, message: 'expected a list of inputs or a map of name → input' })
  }
  return out
}

/** `secrets` lists names only, normalised to upper case; values never belong in a workflow. */
function normalizeSecrets(value: unknown, issues: RawIssue[]): string[] {
  const hint = 'list secret names only (e.g. [API_TOKEN]); store values with `workflow secrets set`'
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) {
    issues.push({ at: ['secrets'], code: IssueCode.SecretValueNotName, message: `secrets must be a list of names: ${hint}` })
    return []
  }
  const names = new Set<string>()
  value.forEach((item, i) => {
    if (typeof item !== 'string') {
      issues.push({ at: ['secrets', i], code: IssueCode.SecretValueNotName, message: `expected a secret name: ${hint}` })
    } else if (!SECRET_NAME_PATTERN.test(item)) {
      issues.push({ at: ['secrets', i], code: IssueCode.InvalidSecretName, message: `invalid secret name "${item}" (letters, digits and _ only)` })
    } else names.add(item.toUpperCase())
  })
  return [...names]
}

/** Each trigger is checked and normalised by its type (runtime/triggers/); this records where each came from. */
function triggersOf(raw: Record<string, unknown>, sources: Sources, issues: RawIssue[], registry?: TriggerRegistry): Workflow['triggers'] {
  const { triggers, at } = normalizeTriggers(raw, issues, registry)
  sources.triggers = at
  return triggers
}
