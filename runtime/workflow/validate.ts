/** Semantic checks on a normalised workflow: ids, the needs graph, durations, triggers (by their types), templates and conditions, input defaults, and each task's kind's own. */
import { checkTriggers } from '../triggers/dispatch.ts'
import type { TriggerRegistry } from '../triggers/registry.ts'
import { findCycle } from './graph.ts'
import { IssueCode } from './issues.ts'
import type { AnyTaskDef, InputDecl, Workflow } from './model.ts'
import type { Sources } from './normalize.ts'
import type { Segment } from './path.ts'
import type { RawIssue } from './schema-issues.ts'
import { ID_PATTERN } from './schema.ts'
import { kindOf, templatesOf, TASK_KINDS, type TaskKinds } from './tasks/registry.ts'
import { compileExpression } from '../expressions/compile.ts'
import { CONDITION_SCOPE, EACH_CONDITION_SCOPE, EACH_TEMPLATE_SCOPE, TEMPLATE_SCOPE, type RootSet } from '../expressions/scope.ts'
import { TASK_LISTS, tasksOf, type TaskList } from './task-lists.ts'
import { scanTemplates, type TemplateRef } from './template.ts'
import { indexUpstream } from './upstream.ts'

/** Errors make a workflow invalid; warnings do not. */
export interface SemanticReport {
  errors: RawIssue[]
  warnings: RawIssue[]
}

/** Every semantic problem in one pass (never stops at the first). */
export function validateSemantics(wf: Workflow, src: Sources, kinds: TaskKinds = TASK_KINDS, triggerTypes?: TriggerRegistry): SemanticReport {
  const errors: RawIssue[] = []
  const warnings: RawIssue[] = []
  const add = (at: Segment[], code: IssueCode, message: string) => errors.push({ at, code, message })
  if (wf.id !== '' && !ID_PATTERN.test(wf.id)) add(['id'], IssueCode.InvalidId, idMessage('workflow', wf.id))
  if (src.tasksEmpty) add(['tasks'], IssueCode.EmptyTasks, 'a workflow needs at least one task')
  checkInputs(wf.inputs, src, add)
  const triggers = checkTriggers(wf.triggers, src.triggers, { inputs: wf.inputs }, triggerTypes)
  errors.push(...triggers.errors)
  warnings.push(...triggers.warnings)
  checkTasks(wf, src, add, errors, kinds)
  checkTemplates(wf, src, add, warnings, kinds)
  return { errors, warnings }
}

type Add = (at: Segment[], code: IssueCode, message: string) => void

const idMessage = (what: string, id: string) =>
  `invalid ${what} id "${id}" (lower-case letters, digits, - and _; must start with a letter or digit)`

/**
 * Names every plain object answers without holding them (`__proto__`, `constructor`, `toString`…): inputs travel as
 * plain objects (the API's JSON, templates, the UI's form), where such a name reads or sets the prototype.
 */
const RESERVED_INPUT_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype))

function checkInputs(inputs: InputDecl[], src: Sources, add: Add): void {
  const seen = new Set<string>()
  inputs.forEach((input, k) => {
    const at = src.inputs[k] ?? ['inputs']
    if (!/^[A-Za-z_][\w-]*$/.test(input.name)) add(at, IssueCode.InvalidInputName, `invalid input name "${input.name}"`)
    else if (RESERVED_INPUT_NAMES.has(input.name)) {
      add(at, IssueCode.InvalidInputName, `input name "${input.name}" is reserved (a property every JavaScript object has): choose another`)
    }
    if (seen.has(input.name)) add(at, IssueCode.DuplicateInput, `input "${input.name}" is declared twice`)
    seen.add(input.name)
    if (input.default !== undefined && !matchesType(input.default, input.type)) {
      add([...at, 'default'], IssueCode.InvalidInputDefault, `default of input "${input.name}" is not a ${input.type}`)
    }
  })
}

/** Whether a value is of a declared input type (shared with the engine's input checks). */
export function matchesType(v: unknown, type: InputDecl['type']): boolean {
  switch (type) {
    case 'string': return typeof v === 'string'
    case 'number': return typeof v === 'number' && Number.isFinite(v)
    case 'boolean': return typeof v === 'boolean'
    case 'array': return Array.isArray(v)
    case 'object': return v !== null && typeof v === 'object' && !Array.isArray(v)
  }
}

/** A list's tasks with where each came from (the main list's sources are the top-level ones). */
interface ListView {
  list: TaskList
  tasks: readonly AnyTaskDef[]
  at: Segment[][]
  needs: Segment[][][]
}

function listViews(wf: Workflow, src: Sources): ListView[] {
  return TASK_LISTS.map((list) => list === 'tasks'
    ? { list, tasks: wf.tasks, at: src.tasks, needs: src.needs }
    : { list, tasks: tasksOf(wf, list), at: src.lists[list].tasks, needs: src.lists[list].needs })
}

function checkTasks(wf: Workflow, src: Sources, add: Add, errors: RawIssue[], kinds: TaskKinds): void {
  // Ids are unique across the lists: a run path names its list, but templates and messages name tasks by id.
  const first = new Map<string, { list: TaskList; k: number }>()
  const lists = listViews(wf, src)
  for (const { list, tasks, at: sources } of lists) {
    tasks.forEach((t, k) => {
      const at = sources[k] ?? [list, k]
      if (t.id !== '') {
        if (!ID_PATTERN.test(t.id)) add([...at, 'id'], IssueCode.InvalidId, idMessage('task', t.id))
        else if (t.id === 'finally') add([...at, 'id'], IssueCode.ReservedTaskId, 'task id "finally" is reserved (the prefix of the finally tasks\' run paths); choose another')
        const seen = first.get(t.id)
        if (seen !== undefined) add([...at, 'id'], IssueCode.DuplicateTaskId, `task id "${t.id}" is already used by ${seen.list}[${seen.k}]`)
        else first.set(t.id, { list, k })
      }
      kindOf(t, kinds)?.validate(t, at, errors)
    })
  }
  for (const { list, tasks, at: sources, needs } of lists) {
    const ids = new Set(tasks.map((t) => t.id))
    const suggest = suggester(ids)
    tasks.forEach((t, k) => {
      t.needs.forEach((n, j) => {
        const at = needs[k]?.[j] ?? [...(sources[k] ?? []), 'needs']
        const elsewhere = first.get(n)
        if (n === t.id) add(at, IssueCode.SelfNeed, `task "${t.id}" cannot need itself`)
        else if (ids.has(n)) return
        else if (elsewhere) add(at, IssueCode.NeedOutsideList, `task "${t.id}" (in ${list}) needs "${n}", which is in ${elsewhere.list}: needs stay within one list (${elsewhere.list === 'tasks' ? 'the main tasks have all ended before onFailure and finally start' : 'each list is its own graph'})`)
        else add(at, IssueCode.UnknownNeed, `task "${t.id}" needs unknown task "${n}"${suggest(n)}`)
      })
    })
    const cycle = findCycle(withoutSelfNeeds(tasks))
    if (cycle) {
      const k = tasks.findIndex((t) => t.id === cycle[0])
      const j = tasks[k]?.needs.indexOf(cycle[1] ?? '') ?? -1
      add(needs[k]?.[j] ?? sources[k] ?? [list], IssueCode.Cycle, `dependency cycle: ${cycle.join(' → ')}`)
    }
  }
}

const withoutSelfNeeds = (tasks: readonly AnyTaskDef[]) => tasks.map((t) => ({ id: t.id, needs: t.needs.filter((n) => n !== t.id) }))

/**
 * " (did you mean "fetch-data"?)" for an id that differs from a known one only in case or in - and _.
 * Indexed once, so each unknown need costs O(1) instead of a scan of every id.
 */
function suggester(known: Set<string>): (name: string) => string {
  const byCase = new Map<string, string>()
  const bySeparators = new Map<string, string>()
  for (const k of known) {
    if (!byCase.has(k.toLowerCase())) byCase.set(k.toLowerCase(), k)
    if (!bySeparators.has(k.replace(/[-_]/g, ''))) bySeparators.set(k.replace(/[-_]/g, ''), k)
  }
  return (name) => {
    const close = byCase.get(name.toLowerCase()) ?? bySeparators.get(name.replace(/[-_]/g, ''))
    return close ? ` (did you mean "${close}"?)` : ''
  }
}

function checkTemplates(wf: Workflow, src: Sources, add: Add, warnings: RawIssue[], kinds: TaskKinds): void {
  const inputs = new Set(wf.inputs.map((i) => i.name))
  const secrets = new Set(wf.secrets)
  const usedSecrets = new Set<string>()
  const lists = listViews(wf, src)
  const listOf = new Map<string, number>()
  const iterated = new Set<string>()
  lists.forEach((l, i) => {
    for (const t of l.tasks) {
      if (!listOf.has(t.id)) listOf.set(t.id, i)
      if (t.forEach !== undefined) iterated.add(t.id)
    }
  })
  /**
   * One read of a root, by task `k` of list `li` (`where`), or by the workflow's outputs (undefined: evaluated once
   * every task is done, so any task may be read and none is upstream of it).
   */
  const checkRef = (r: TemplateRef & { at: Segment[] }, where?: { li: number; k: number; id: string; list: TaskList; upstream: ReturnType<typeof indexUpstream> }): void => {
    const [head = '', second] = r.path
    if (r.root === 'inputs' && head !== '' && !inputs.has(head)) {
      add(r.at, IssueCode.UndeclaredInput, `${r.raw} uses input "${head}", which is not declared in inputs`)
    } else if (r.root === 'secrets') {
      usedSecrets.add(head.toUpperCase())
      if (!secrets.has(head.toUpperCase())) {
        add(r.at, IssueCode.UndeclaredSecret, `${r.raw} uses secret "${head}", which is not listed in secrets`)
      }
    } else if (r.root === 'execution' && head === 'error' && where?.list !== 'onFailure' && where?.list !== 'finally') {
      add(r.at, IssueCode.InvalidTemplate, `${r.raw}: execution.error is known only to the onFailure and finally tasks`)
    } else if (r.root === 'tasks') {
      const refList = listOf.get(head)
      if (refList === undefined) add(r.at, IssueCode.UnknownTaskRef, `${r.raw} refers to unknown task "${head}"`)
      else if (second === 'outputs' && !iterated.has(head)) {
        add(r.at, IssueCode.InvalidTemplate, `${r.raw}: tasks.${head}.outputs is the list of a forEach task's iteration outputs; "${head}" has no forEach (use tasks.${head}.output)`)
      } else if (second === 'output' && iterated.has(head)) {
        add(r.at, IssueCode.InvalidTemplate, `${r.raw}: "${head}" is a forEach task; its iterations' outputs are the list tasks.${head}.outputs`)
      } else if (second === 'files' && iterated.has(head) && r.path[2] !== undefined && !/^\d+$/.test(r.path[2])) {
        add(r.at, IssueCode.InvalidTemplate, `${r.raw}: "${head}" is a forEach task; its files are a list, one map per iteration (tasks.${head}.files[i]['${r.path[2]}'])`)
      } else if (where === undefined) return
      else if (refList > where.li) {
        add(r.at, IssueCode.TaskRefNotUpstream, `${r.raw}: task "${where.id}" (in ${where.list}) runs before "${head}" (in ${lists[refList]!.list})`)
      } else if (refList === where.li && where.upstream.needs(where.k, head) === false) {
        // undefined: the task sits on or behind a cycle, which is reported as CYCLE. A task of an earlier
        // list has ended before this list starts: its output is there if it succeeded.
        add(r.at, IssueCode.TaskRefNotUpstream, `${r.raw}: task "${where.id}" must need "${head}" (directly or transitively) to use its ${second ?? 'output'}`)
      }
    }
  }
  lists.forEach(({ list, tasks, at: sources }, li) => {
    const upstream = indexUpstream(withoutSelfNeeds(tasks))
    tasks.forEach((t, k) => {
      const at = sources[k] ?? [list, k]
      const where = { li, k, id: t.id, list, upstream }
      const each = t.forEach !== undefined
      const { refs, problems } = scanTemplates(templatesOf(t, kinds), at, each ? EACH_TEMPLATE_SCOPE : TEMPLATE_SCOPE)
      for (const p of problems) add(p.at, IssueCode.InvalidTemplate, p.message)
      for (const r of refs) checkRef(r, where)
      if (t.if !== undefined) checkCondition(t.if, [...at, 'if'], add, (r) => checkRef(r, where), each ? EACH_CONDITION_SCOPE : CONDITION_SCOPE)
      if (t.forEach !== undefined) checkForEach(t.forEach, [...at, 'forEach'], add, (r) => checkRef(r, where))
    })
  })
  for (const [name, value] of Object.entries(wf.outputs ?? {})) {
    if (!/^[A-Za-z_][\w-]*$/.test(name)) add(['outputs', name], IssueCode.InvalidValue, `invalid output name "${name}" (letters, digits, - and _)`)
    const { refs, problems } = scanTemplates(value, ['outputs', name], CONDITION_SCOPE)
    for (const p of problems) add(p.at, IssueCode.InvalidTemplate, p.message)
    for (const r of refs) checkRef(r, undefined)
  }
  for (const s of secrets) {
    if (!usedSecrets.has(s)) warnings.push({ at: ['secrets'], code: IssueCode.UnusedSecret, message: `secret ${s} is declared but never used` })
  }
}

/** A task's `if:`: one CEL expression over the condition roots (no secrets; a forEach task's with `item`, `index`) that can be a boolean. */
function checkCondition(source: string, at: Segment[], add: Add, checkRef: (r: TemplateRef & { at: Segment[] }) => void, set: RootSet): void {
  const r = compileExpression(source, set)
  if (!r.ok) return add(at, IssueCode.InvalidTemplate, `if: ${r.message}`)
  if (r.expr.kind === 'cel' && r.expr.type !== 'bool' && r.expr.type !== 'dyn') {
    return add(at, IssueCode.InvalidTemplate, `if: must be a boolean; this expression is a ${r.expr.type}`)
  }
  for (const ref of r.expr.refs) checkRef({ root: ref.root, path: ref.path, raw: `if: ${source}`, at })
}

/**
 * A task's `forEach:`: one CEL expression over the condition roots that can be a list. No secrets (the number of
 * runs it makes is stored state, like a condition's answer), and no `item`/`index`: it makes them.
 */
function checkForEach(source: string, at: Segment[], add: Add, checkRef: (r: TemplateRef & { at: Segment[] }) => void): void {
  const r = compileExpression(source, CONDITION_SCOPE)
  if (!r.ok) return add(at, IssueCode.InvalidTemplate, `forEach: ${r.message}`)
  if (r.expr.kind === 'cel' && !r.expr.type.startsWith('list') && r.expr.type !== 'dyn') {
    return add(at, IssueCode.InvalidTemplate, `forEach: must be a list; this expression is a ${r.expr.type}`)
  }
  for (const ref of r.expr.refs) checkRef({ root: ref.root, path: ref.path, raw: `forEach: ${source}`, at })
}
