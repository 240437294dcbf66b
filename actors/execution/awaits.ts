/**
 * The runs that wait for something outside them — a time (`wait`), a decision (`approval`): how such a wait ends
 * (its kind's `wake` at the stored time, its `decide` on a decision) and when the whole execution parks because
 * nothing else of it can move. Part of the execution's pure planning (logic.ts), on the planner's AwaitHost.
 */
import { ErrorCode, toErrorInfo, type ErrorInfo } from '../../runtime/errors.ts'
import { isOutsideWait, WaitReason, type AuditType } from '../../runtime/state/states.ts'
import type { ChildEnd } from '../../runtime/store/types.ts'
import type { Transition } from '../../runtime/store/checkpoint.ts'
import type { AnyTaskDef } from '../../runtime/workflow/model.ts'
import type { RunPath } from '../../runtime/workflow/run-path.ts'
import type { Decision, Effect, ExecutionView, TaskOutcome, TaskView } from './protocol.ts'
import type { StepScope, TaskStep } from './steps/step.ts'
import { everyRun, waitClass } from './view.ts'

/** The audit event that records an attempt's end instead of the one its state implies (a decision's). */
export interface AttemptAudit {
  type: AuditType
  data: Record<string, unknown>
}

/** What the await handlers use of the planner (logic.ts). */
export interface AwaitHost {
  readonly id: string
  readonly view: ExecutionView
  readonly now: number
  readonly scope: StepScope
  readonly transitions: Transition[]
  readonly effects: Effect[]
  /** The answer to a decision that changed nothing. */
  refuse(error: ErrorInfo): void
  set(path: RunPath, patch: Partial<TaskView>): void
  taskAt(path: RunPath): AnyTaskDef | undefined
  stepOf(kind: string): TaskStep | undefined
  /** An attempt's outcome: SUCCESS, a retry wait, or FAILED (and what that settles). */
  conclude(path: RunPath, attempt: number, outcome: TaskOutcome, audit?: AttemptAudit): unknown
}

/** The run at `path` if it awaits something outside it (a time, a decision) while the execution runs. */
function awaiting(p: AwaitHost, path: RunPath): TaskView | undefined {
  const run = p.view.tasks[path]
  if (p.view.phase !== 'running' || run?.state !== 'WAITING' || !isOutsideWait(run.reason) || p.view.inFlight.has(path)) return undefined
  return run
}

/** An await ends as one attempt: RUNNING and its outcome, committed together. */
function endAwait(p: AwaitHost, path: RunPath, attempt: number, outcome: TaskOutcome, audit?: AttemptAudit): void {
  p.set(path, { state: 'RUNNING', attempt, nextAttemptAt: undefined })
  p.transitions.push({ kind: 'task', executionId: p.id, taskId: path, to: 'RUNNING', attempt })
  p.conclude(path, attempt, outcome, audit)
}

/** The wake-up time of an awaiting run came: its kind says how the attempt ends. */
export function wakeRun(p: AwaitHost, path: RunPath): void {
  const run = awaiting(p, path)
  const task = p.taskAt(path)
  if (!run || !task || run.nextAttemptAt === undefined) return
  if (run.nextAttemptAt > p.now) {
    // A timer that fired a little early (timer rounding): it is not time yet.
    p.effects.push({ type: 'scheduleWake', path, at: run.nextAttemptAt })
    return
  }
  const step = p.stepOf(task.kind)
  const attempt = run.attempt + 1
  let outcome: TaskOutcome
  try {
    outcome = step?.wake
      ? step.wake(task, { path, attempt, now: p.now }, p.scope)
      : { ok: false, error: { code: ErrorCode.Internal, message: `task kind "${task.kind}" awaits but has no wake` } }
  } catch (e) {
    outcome = { ok: false, error: toErrorInfo(e) }
  }
  endAwait(p, path, attempt, outcome)
}

/**
 * A decision on an awaiting run (an approval). Refused, with nothing changed, when the run is not awaiting or
 * its kind takes no decisions or refuses this one (`Step.refusal`); else the attempt ends as the kind says.
 */
export function decideRun(p: AwaitHost, path: RunPath, decision: Decision): void {
  const task = p.taskAt(path)
  if (!task) return p.refuse({ code: ErrorCode.NotFound, message: `execution ${p.id} has no task ${path}` })
  const run = awaiting(p, path)
  const step = p.stepOf(task.kind)
  if (!run || !step?.decide) {
    const state = p.view.tasks[path]!.state
    return p.refuse({ code: ErrorCode.Conflict, message: `task ${path} is not waiting for a decision (it is ${state})`, details: { state } })
  }
  let outcome: TaskOutcome
  try {
    outcome = step.decide(task, decision, p.scope)
  } catch (e) {
    return p.refuse(toErrorInfo(e))
  }
  const data = decision.verdict === 'approve'
    ? { by: decision.by, inputs: Object.keys(decision.inputs) }
    : { by: decision.by, reason: decision.reason }
  endAwait(p, path, run.attempt + 1, outcome, { type: decision.verdict === 'approve' ? 'APPROVED' : 'REJECTED', data })
}

/**
 * The child execution a subflow run waits for has ended (told by the engine, or known on resume): the kind's
 * `childEnded` says how the attempt ends. Ignored unless the run still waits for that very child (a late or
 * repeated word, or one about an earlier attempt's child, changes nothing).
 */
export function childEndedRun(p: AwaitHost, path: RunPath, end: ChildEnd): void {
  const run = awaiting(p, path)
  const task = p.taskAt(path)
  if (!run || !task || run.reason !== WaitReason.Subflow || run.child !== end.executionId) return
  const step = p.stepOf(task.kind)
  let outcome: TaskOutcome
  try {
    outcome = step?.childEnded
      ? step.childEnded(task, end)
      : { ok: false, error: { code: ErrorCode.Internal, message: `task kind "${task.kind}" started a child but has no childEnded` } }
  } catch (e) {
    outcome = { ok: false, error: toErrorInfo(e) }
  }
  p.set(path, { childEnd: undefined })
  endAwait(p, path, run.attempt + 1, outcome)
}

/**
 * Nothing in flight, no retry due, nothing left to start, and a run waits for a time or a decision (the other
 * unfinished runs need it): the execution parks — WAITING, with the first such run's reason — and its actor
 * stops, so it holds no place on a worker nor among `maxConcurrentWorkflows`. The supervisor runs it again at
 * its stored wake-up time, for a decision or a cancel (actors/supervisor/parking.ts).
 */
export function parkIfIdle(p: AwaitHost): void {
  const v = p.view
  if (v.phase !== 'running' || v.inFlight.size > 0 || v.plan.retrying > 0 || v.plan.awaiting === 0) return
  // Once per park, not per message: the scan finds the reason to record.
  let first: RunPath | undefined
  for (const path of everyRun(v)) {
    if (waitClass(v.tasks[path]!) !== 'awaiting') continue
    first = path
    break
  }
  const reason = v.tasks[first!]!.reason as WaitReason
  v.phase = 'done'
  p.transitions.push({ kind: 'execution', executionId: p.id, to: 'WAITING', reason })
  p.effects.push({ type: 'finished' })
}
