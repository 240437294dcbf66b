/**
 * forEach in the planner: starting a forEach task's iterations, filling its concurrency in index order, deciding
 * each iteration's `if:`, counting what ends, and ending the task. Part of the execution's pure planning
 * (logic.ts), on the planner's ForEachHost; the group and the list are foreach.ts.
 */
import type { ErrorInfo } from '../../runtime/errors.ts'
import { EACH_CONDITION_SCOPE } from '../../runtime/expressions/scope.ts'
import { SkipReason, type TaskRunState } from '../../runtime/state/states.ts'
import type { Transition } from '../../runtime/store/checkpoint.ts'
import type { AnyTaskDef } from '../../runtime/workflow/model.ts'
import type { RunPath } from '../../runtime/workflow/run-path.ts'
import { conditionRefs, decideCondition } from './condition.ts'
import { buildGroup, evaluateList, failsFast, groupEnd, iterationPath, splitIteration, type Group } from './foreach.ts'
import type { ExecutionView, Iteration, TaskView } from './protocol.ts'
import { taskFactsFor } from './view.ts'

/** What the forEach handlers use of the planner (logic.ts). */
export interface ForEachHost {
  readonly id: string
  readonly view: ExecutionView
  readonly transitions: Transition[]
  set(path: RunPath, patch: Partial<TaskView>): void
  /** A run reached a terminal state: its counters, its dependents (an iteration: settleIteration). */
  settle(path: RunPath, to: TaskRunState, reason?: string): void
  /** Ends a run that never started, SKIPPED with why. */
  skip(path: RunPath, reason: SkipReason): void
  /** Starts the run's next attempt through its task's kind's step. */
  dispatchRun(path: RunPath, task: AnyTaskDef, iteration?: Iteration): void
}

/** The group of the forEach run at `parent`, once its iterations exist. */
export function groupOf(view: ExecutionView, parent: RunPath): Group | undefined {
  const at = view.plan.position.get(parent)
  return at === undefined ? undefined : view.plan.groups.get(at)
}

/** Iteration `index`'s item: the list is evaluated again after a resume, when an iteration first needs it. */
export function iterationFor(h: ForEachHost, g: Group, index: number): Iteration {
  if (!g.items) {
    const list = listFor(h.view, h.view.plan.tasks[g.at]!)
    // The same inputs and the same stored outputs give the same list; one that does not fits no iteration.
    if (list.ok && list.items.length === g.count) g.items = list.items
  }
  return { index, item: g.items?.[index] }
}

/** What the task's `forEach:` yields now: over the inputs, the execution and the runs it names (no secrets). */
function listFor(v: ExecutionView, task: AnyTaskDef): ReturnType<typeof evaluateList> {
  const scope = {
    inputs: v.inputs,
    tasks: taskFactsFor(v, conditionRefs(task.forEach ?? '[]')),
    execution: { id: v.executionId, workflowId: v.workflow.id },
  }
  return evaluateList(task, scope, v.maxForEachItems)
}

/** A run that fails without an attempt (a forEach list that cannot be had, an iteration's `if:` that cannot be decided). */
function failNow(h: ForEachHost, path: RunPath, error: ErrorInfo): void {
  h.set(path, { state: 'FAILED', error })
  h.transitions.push({ kind: 'task', executionId: h.id, taskId: path, to: 'FAILED', error })
  h.settle(path, 'FAILED')
}

/**
 * A forEach task's needs are done: its list is evaluated once, its iterations are created (one `iterations`
 * transition, ahead of the parent's RUNNING in the same batch), and they start in index order. A list that
 * cannot be had fails the task without an attempt; an empty one succeeds at once with `outputs: []`. When the
 * iterations exist already (a restart gave the run back), they are kept: what succeeded never runs again.
 */
export function startGroup(h: ForEachHost, at: number): void {
  const plan = h.view.plan
  const task = plan.tasks[at]!
  const path = plan.paths[at]!
  const attempt = h.view.tasks[path]!.attempt + 1
  let g = plan.groups.get(at)
  if (!g) {
    const list = listFor(h.view, task)
    if (!list.ok) return failNow(h, path, list.error)
    const count = list.items.length
    if (count === 0) {
      h.set(path, { state: 'SUCCESS', attempt, output: [] })
      h.transitions.push({ kind: 'task', executionId: h.id, taskId: path, to: 'RUNNING', attempt, auditData: { items: 0 } })
      h.transitions.push({ kind: 'task', executionId: h.id, taskId: path, to: 'SUCCESS', output: [] })
      h.settle(path, 'SUCCESS')
      return
    }
    h.transitions.push({ kind: 'iterations', executionId: h.id, parent: path, count, taskKind: task.kind })
    for (let i = 0; i < count; i++) h.view.tasks[iterationPath(path, i)] = { state: 'PENDING', attempt: 0 }
    g = buildGroup(at, path, task, count, h.view.tasks)
    g.items = list.items
    plan.groups.set(at, g)
  }
  h.set(path, { state: 'RUNNING', attempt, nextAttemptAt: undefined })
  h.transitions.push({ kind: 'task', executionId: h.id, taskId: path, to: 'RUNNING', attempt, auditData: { items: g.count } })
  queueFill(h.view, g)
}

function queueFill(view: ExecutionView, g: Group): void {
  if (g.queued) return
  g.queued = true
  view.plan.refill.push(g.at)
}

/**
 * Starts iterations in index order while fewer than `concurrency` are active; after a failure (fail-fast, not
 * with `allowFailure`) the ones not started are SKIPPED (FAIL_FAST) instead, and the active ones finish. Ends
 * the task once every iteration has ended. Each index is looked at once (`next` only moves forward).
 */
export function fillGroup(h: ForEachHost, g: Group): void {
  g.queued = false
  const v = h.view
  const task = v.plan.tasks[g.at]!
  if (v.phase !== 'running' || v.tasks[g.path]!.state !== 'RUNNING') return
  while (g.next < g.count && (failsFast(g, task) || g.active < g.concurrency)) {
    const index = g.next++
    const path = iterationPath(g.path, index)
    if (v.tasks[path]!.state !== 'PENDING' || v.inFlight.has(path)) continue
    if (failsFast(g, task)) {
      h.skip(path, SkipReason.FailFast)
      continue
    }
    const iteration = iterationFor(h, g, index)
    if (!gateIteration(h, task, path, iteration)) continue
    g.started[index] = 1
    g.active++
    h.dispatchRun(path, task, iteration)
  }
  if (g.ended === g.count) endGroup(h, g)
}

/** An iteration's `if:`, with its `item` and `index`: true runs it; false skips it (CONDITION_FALSE); else it fails. */
function gateIteration(h: ForEachHost, task: AnyTaskDef, path: RunPath, iteration: Iteration): boolean {
  if (task.if === undefined) return true
  const v = h.view
  const c = decideCondition(task.if, {
    inputs: v.inputs,
    tasks: taskFactsFor(v, conditionRefs(task.if, EACH_CONDITION_SCOPE)),
    execution: { id: v.executionId, workflowId: v.workflow.id },
    item: iteration.item,
    index: iteration.index,
  }, EACH_CONDITION_SCOPE)
  if (c.type === 'run') return true
  if (c.type === 'skip') h.skip(path, SkipReason.ConditionFalse)
  else failNow(h, path, c.error)
  return false
}

/** An iteration reached a terminal state: its group counts it, and looks again at what may start or end. */
export function settleIteration(h: ForEachHost, path: RunPath, to: TaskRunState): void {
  const it = splitIteration(path)
  const g = it && groupOf(h.view, it.parent)
  if (!it || !g) return
  if (g.started[it.index] === 1) {
    g.started[it.index] = 0
    g.active--
  }
  g.ended++
  if (to === 'FAILED') {
    g.failed++
    if (g.firstFailed < 0 || it.index < g.firstFailed) g.firstFailed = it.index
  }
  queueFill(h.view, g)
}

/** Every iteration has ended: the task succeeds, or fails with the first failed iteration's code; its output is their outputs. */
function endGroup(h: ForEachHost, g: Group): void {
  if (h.view.tasks[g.path]!.state !== 'RUNNING') return
  const end = groupEnd(g, h.view.tasks)
  if (!end.error) {
    h.set(g.path, { state: 'SUCCESS', output: end.output })
    h.transitions.push({ kind: 'task', executionId: h.id, taskId: g.path, to: 'SUCCESS', output: end.output })
    h.settle(g.path, 'SUCCESS')
    return
  }
  h.set(g.path, { state: 'FAILED', error: end.error, output: end.output })
  h.transitions.push({ kind: 'task', executionId: h.id, taskId: g.path, to: 'FAILED', error: end.error, output: end.output })
  h.settle(g.path, 'FAILED')
}
