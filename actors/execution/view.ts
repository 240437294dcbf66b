/**
 * The execution actor's view and its planning indexes. Built once per actor from the task runs (O(tasks +
 * needs)); from then on the logic keeps them in step with each change, so a message costs what it changes
 * (the runs it settles, their direct dependents, the runs it dispatches), not a scan of every task.
 */
import type { ExprRef } from '../../runtime/expressions/ast.ts'
import { TEMPLATE_SCOPE, type RootSet, type TaskFacts } from '../../runtime/expressions/scope.ts'
import { isConditionSkip, isOutsideWait, isTerminalTask, type TaskRunState } from '../../runtime/state/states.ts'
import { listedTasks, TASK_LISTS } from '../../runtime/workflow/task-lists.ts'
import { extractTemplateRefs } from '../../runtime/workflow/template.ts'
import { MinHeap } from '../../runtime/workflow/min-heap.ts'
import type { AnyTaskDef, Workflow } from '../../runtime/workflow/model.ts'
import type { RunPath } from '../../runtime/workflow/run-path.ts'
import type { FileRef } from '../../runtime/workflow/tasks/files.ts'
import type { StoredFile } from '../../runtime/store/types.ts'
import type { ExecutionView, TaskView } from './protocol.ts'
import { buildGroup, DEFAULT_MAX_FOR_EACH_ITEMS, iterationPath, storedCount, type Group } from './foreach.ts'

/**
 * Planning indexes over every task of every list (main, onFailure, finally: runtime/workflow/task-lists.ts); a
 * task's position is its index in that order. A list's tasks become ready only once the list is open: the main
 * list at once, onFailure when the main list has ended failed, finally when both have ended.
 */
export interface Plan {
  /** Every task, main list first, in declaration order. */
  readonly tasks: readonly AnyTaskDef[]
  /** Each position's run path (`fetch`, `finally/cleanup`). */
  readonly paths: readonly RunPath[]
  /** Each position's list, as an index into TASK_LISTS. */
  readonly listOf: Uint8Array
  readonly position: ReadonlyMap<RunPath, number>
  /** Run path by task id (ids are unique across the lists), for templates naming `tasks.<id>`. */
  readonly pathById: ReadonlyMap<string, RunPath>
  /** Each task's direct dependents, by position (each once, declaration order). */
  readonly dependents: readonly (readonly number[])[]
  /** Each task's needs that have neither succeeded (a failure allowed by `allowFailure` counts as success) nor been skipped by a condition yet. */
  readonly waitingOn: Int32Array
  /** Tasks of open lists whose needs all succeeded (or were skipped by a condition), first-declared first; an entry is checked again when it comes out. */
  readonly ready: MinHeap
  /** Tasks with a need that ended without success, to be skipped; checked again when they come out. */
  readonly blocked: MinHeap
  /** Per task, 1 when a need was skipped by a condition: without an `if:` of its own it is skipped too. */
  readonly skippedNeed: Uint8Array
  /** Runs not in a terminal state, in all and per list. */
  unfinished: number
  readonly unfinishedIn: Int32Array
  /** Whether each list has been opened. */
  readonly opened: boolean[]
  /** Position of the first-declared FAILED main task (not allowed to fail), or -1: the execution's error. */
  firstFailed: number
  /** Position of the first-declared FAILED onFailure or finally task (not allowed to fail), or -1. */
  laterFailed: number
  /** Positions of FAILED tasks that were allowed to fail (declaration order not guaranteed). */
  readonly allowedFailures: number[]
  /** Runs WAITING for a time or a decision (`await`), and runs WAITING for a retry: when to park (logic.ts). */
  awaiting: number
  retrying: number
  /** forEach tasks whose iterations exist, by position (foreach.ts). */
  readonly groups: Map<number, Group>
  /** Positions of groups that may start iterations, or end: looked at by the planner's next pass. */
  readonly refill: number[]
}

/** What a run's wait counts as: an outside wait (a time, a decision), a retry's, or none. */
export function waitClass(run: Pick<TaskView, 'state' | 'reason'>): 'awaiting' | 'retrying' | undefined {
  if (run.state !== 'WAITING') return undefined
  return isOutsideWait(run.reason) ? 'awaiting' : 'retrying'
}

export interface ViewInit {
  executionId: string
  workflow: Workflow
  inputs?: Readonly<Record<string, unknown>>
  /** Stored runs by path; a task without one is PENDING at attempt 0. forEach iterations (`each[3]`) come with them. */
  runs?: Readonly<Record<RunPath, TaskView>>
  /** Items a forEach list may hold (default DEFAULT_MAX_FOR_EACH_ITEMS). */
  maxForEachItems?: number
}

/** Whether a run in `state` lets its dependents go on: a success, or a failure its task allows. */
export const satisfies = (task: AnyTaskDef, state: TaskRunState): boolean => state === 'SUCCESS' || (state === 'FAILED' && task.allowFailure === true)

/** A view of an execution that has nothing in flight (a fresh one, or one resumed from the store). */
export function createView(init: ViewInit): ExecutionView {
  const listed = listedTasks(init.workflow)
  const defs: AnyTaskDef[] = listed.map((l) => l.task)
  const paths = listed.map((l) => l.path)
  const listOf = Uint8Array.from(listed.map((l) => TASK_LISTS.indexOf(l.list)))
  const tasks: Record<RunPath, TaskView> = {}
  for (const p of paths) tasks[p] = init.runs?.[p] ?? { state: 'PENDING', attempt: 0 }
  const position = new Map(paths.map((p, i) => [p, i]))
  const pathById = new Map<string, RunPath>()
  // Needs name tasks of the task's own list (validation refuses others).
  const inList = new Map(listed.map((l, i) => [`${l.list}\u0000${l.task.id}`, i]))
  for (const l of listed) if (!pathById.has(l.task.id)) pathById.set(l.task.id, l.path)
  const dependents: number[][] = defs.map(() => [])
  const waitingOn = new Int32Array(defs.length)
  const unfinishedIn = new Int32Array(TASK_LISTS.length)
  const hopeless = new Uint8Array(defs.length)
  const skippedNeed = new Uint8Array(defs.length)
  let unfinished = 0
  let firstFailed = -1
  let laterFailed = -1
  const allowedFailures: number[] = []
  const waits = { awaiting: 0, retrying: 0 }
  const groups = new Map<number, Group>()
  const refill: number[] = []
  listed.forEach((l, i) => {
    const t = l.task
    const state = tasks[l.path]!.state
    // A forEach task's stored iterations (a resume, a restart): its group, counted as stored.
    const count = t.forEach === undefined ? 0 : storedCount(l.path, init.runs)
    if (count > 0) {
      for (let k = 0; k < count; k++) {
        const p = iterationPath(l.path, k)
        const run = (tasks[p] = init.runs![p]!)
        const wc = waitClass(run)
        if (wc) waits[wc]++
      }
      const g = buildGroup(i, l.path, t, count, tasks)
      groups.set(i, g)
      if (state === 'RUNNING') {
        g.queued = true
        refill.push(i)
      }
    }
    const w = waitClass(tasks[l.path]!)
    if (w) waits[w]++
    if (!isTerminalTask(state)) {
      unfinished++
      unfinishedIn[listOf[i]!]!++
    }
    if (state === 'FAILED') {
      if (t.allowFailure) allowedFailures.push(i)
      else if (l.list === 'tasks') firstFailed = firstFailed < 0 ? i : firstFailed
      else laterFailed = laterFailed < 0 ? i : laterFailed
    }
    for (const n of new Set(t.needs)) {
      const j = inList.get(`${l.list}\u0000${n}`)
      if (j === undefined || j === i) continue // validation refuses both; never wait on them
      dependents[j]!.push(i)
      const need = tasks[paths[j]!]!
      const s = need.state
      const conditionSkip = isConditionSkip(s, need.reason)
      if (conditionSkip) skippedNeed[i] = 1
      else if (!satisfies(defs[j]!, s)) waitingOn[i]!++
      if (!conditionSkip && ((s === 'FAILED' && !defs[j]!.allowFailure) || s === 'SKIPPED' || s === 'CANCELLED')) hopeless[i] = 1
    }
  })
  const plan: Plan = {
    tasks: defs, paths, listOf, position, pathById, dependents, waitingOn, ready: new MinHeap(), blocked: new MinHeap(), skippedNeed,
    unfinished, unfinishedIn, opened: TASK_LISTS.map(() => false), firstFailed, laterFailed, allowedFailures, ...waits,
    groups, refill,
  }
  openList(plan, tasks, 0, hopeless)
  // A resumed execution whose main list had ended: its later lists open as they did before it stopped.
  if (unfinishedIn[0] === 0 && firstFailed >= 0) openList(plan, tasks, 1, hopeless)
  if (unfinishedIn[0] === 0 && unfinishedIn[1] === 0 && (plan.opened[1] || firstFailed < 0)) openList(plan, tasks, 2, hopeless)
  return {
    executionId: init.executionId, workflow: init.workflow, inputs: init.inputs ?? {}, phase: 'running', tasks, inFlight: new Set(), plan,
    maxForEachItems: init.maxForEachItems ?? DEFAULT_MAX_FOR_EACH_ITEMS,
  }
}

/**
 * Opens list `list` (once): its PENDING tasks whose needs are met are ready, those behind a failure to be
 * skipped. `hopeless` (by position) is known when resuming; a list opened later has no run started yet, so
 * `waitingOn` says all.
 */
export function openList(plan: Plan, tasks: Readonly<Record<RunPath, TaskView>>, list: number, hopeless?: Uint8Array): void {
  if (plan.opened[list]) return
  plan.opened[list] = true
  for (let i = 0; i < plan.tasks.length; i++) {
    if (plan.listOf[i] !== list || tasks[plan.paths[i]!]!.state !== 'PENDING') continue
    if (hopeless?.[i]) plan.blocked.push(i)
    else if (plan.waitingOn[i] === 0) plan.ready.push(i)
  }
}

/**
 * What `tasks.<id>` shows for the runs that `refs` name: each one's state, and its output when it succeeded
 * (a skipped or failed run has none, so `has(tasks.a.output)` is false).
 */
export function taskFactsFor(view: ExecutionView, refs: readonly ExprRef[]): Record<string, TaskFacts> {
  const out: Record<string, TaskFacts> = {}
  for (const ref of refs) {
    const id = ref.path[0]
    const path = id === undefined ? undefined : view.plan.pathById.get(id)
    if (ref.root !== 'tasks' || id === undefined || path === undefined || Object.hasOwn(out, id)) continue
    const run = view.tasks[path]!
    const position = view.plan.position.get(path)!
    if (view.plan.tasks[position]?.forEach !== undefined) {
      // A forEach task's output is the list of its iterations' outputs (foreach.ts groupEnd), once it has ended; its
      // files, the list of its iterations' files in the same order (`null` where one did not succeed).
      out[id] = Array.isArray(run.output) && isTerminalTask(run.state) ? { state: run.state, outputs: run.output, files: iterationFiles(view, position) } : { state: run.state }
      continue
    }
    out[id] = run.state === 'SUCCESS' ? { state: run.state, output: run.output, files: fileRefs(path, run.files) } : { state: run.state }
  }
  return out
}

/** A forEach task's `tasks.<id>.files`: each iteration's files by name, in index order, `null` where it did not succeed. */
function iterationFiles(view: ExecutionView, position: number): (Record<string, FileRef> | null)[] {
  const g = view.plan.groups.get(position)
  const out: (Record<string, FileRef> | null)[] = []
  for (let k = 0; k < (g?.count ?? 0); k++) {
    const at = iterationPath(g!.path, k)
    const run = view.tasks[at]
    out.push(run?.state === 'SUCCESS' ? fileRefs(at, run.files) : null)
  }
  return out
}

/** `tasks.<id>.files`: each stored file by name, as the reference `inputFiles:` entries render to (tasks/files.ts). */
function fileRefs(path: RunPath, files: readonly StoredFile[] | undefined): Record<string, FileRef> {
  const out: Record<string, FileRef> = {}
  for (const f of files ?? []) out[f.name] = { name: f.name, sha256: f.sha256, size: f.size, task: path }
  return out
}

/**
 * `tasks.<id>` for the runs that the templates in `value` name: only those, so an attempt costs what it reads.
 * `set`: the roots the templates are read with (a forEach task's see `item` and `index` too).
 */
export function tasksFor(view: ExecutionView, value: unknown, set: RootSet = TEMPLATE_SCOPE): Record<string, TaskFacts> {
  return taskFactsFor(view, extractTemplateRefs(value, set))
}

/** Every run of the execution in order: each task's, and after a forEach task's its iterations'. */
export function* everyRun(view: ExecutionView): Generator<RunPath> {
  const { plan } = view
  for (let i = 0; i < plan.paths.length; i++) {
    yield plan.paths[i]!
    const g = plan.groups.get(i)
    if (g) for (let k = 0; k < g.count; k++) yield iterationPath(g.path, k)
  }
}
