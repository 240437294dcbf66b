/** Structure check (TypeBox, piece by piece) and normalisation of a raw workflow into the model. */
import { normalizeTriggers } from '../triggers/dispatch.ts'
import type { TriggerRegistry } from '../triggers/registry.ts'
import { IssueCode } from './issues.ts'
import type { InputDecl, InputType, TaskDef, Workflow } from './model.ts'
import { TASK_KINDS, type TaskKinds } from './tasks/registry.ts'
import { durationAt, normalizeTask } from './normalize-task.ts'
import type { Segment } from './path.ts'
import { schemaIssues, type RawIssue } from './schema-issues.ts'
import { RawInputItem, RawInputSpec, RawWorkflow, SECRET_NAME_PATTERN } from './schema.ts'

/** Where each normalised item came from in the source, so semantic issues can point at it. */
export interface Sources {
  inputs: Segment[][]
  triggers: Segment[][]
  tasks: Segment[][]
  /** Per task, per entry of `needs`. */
  needs: Segment[][][]
  /** `tasks` was given as an empty list. */
  tasksEmpty: boolean
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const INPUT_TYPES: readonly string[] = ['string', 'number', 'boolean', 'object', 'array']

/** Checks structure and builds the best workflow it can, so semantic checks can still run on the rest. */
export function normalizeWorkflow(raw: unknown, kinds: TaskKinds = TASK_KINDS, triggerTypes?: TriggerRegistry): { workflow?: Workflow; sources: Sources; issues: RawIssue[] } {
  const sources: Sources = { inputs: [], triggers: [], tasks: [], needs: [], tasksEmpty: false }
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
  if (typeof raw.description === 'string') workflow.description = raw.description
  if (isMap(raw.outputs)) workflow.outputs = raw.outputs
  const timeoutMs = durationAt(raw.timeout, ['timeout'], issues)
  if (timeoutMs !== undefined) workflow.timeoutMs = timeoutMs
  if (Array.isArray(raw.tasks)) {
    sources.tasksEmpty = raw.tasks.length === 0
    raw.tasks.forEach((item, i) => {
      const r = normalizeTask(item, ['tasks', i], issues, kinds)
      if (!r) return
      // A kind outside TASK_KINDS (an injected one) yields a task the TaskDef union does not name; the engine
      // handles it through the same kind set.
      workflow.tasks.push(r.task as TaskDef)
      sources.tasks.push(['tasks', i])
      sources.needs.push(r.needsAt)
    })
  }
  return { workflow, sources, issues }
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
