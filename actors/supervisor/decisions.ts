/**
 * Decisions on awaiting runs (an approval's approve or reject), from the API or the CLI. A decision is taken by
 * the execution's own actor, on the worker that hosts it, and committed there like any of its transitions: one
 * writer per execution, so a decision and the approval's timeout never both win. This module finds that worker;
 * an execution another engine holds is that engine's to decide (remote-decisions.ts).
 */
import type { Clock } from '../../runtime/clock.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { isTerminalExecution } from '../../runtime/state/states.ts'
import type { Store } from '../../runtime/store/store.ts'
import type { TaskRunRecord } from '../../runtime/store/types.ts'
import type { Transition, TransitionResult } from '../../runtime/store/checkpoint.ts'
import { viewOf } from '../execution/actor.ts'
import { nextExecutionState } from '../execution/logic.ts'
import type { Decision } from '../execution/protocol.ts'
import type { TaskSteps } from '../execution/steps/registry.ts'
import type { CancelPlan } from './inbox.ts'
import type { Parking } from './parking.ts'
import type { DecideReply } from './protocol.ts'
import { untilDeath, type PooledWorker } from './workers.ts'

/** How long a decision waits for an execution being resumed or handed to a worker before it says "try again". */
const LOCATE_MS = 10_000
const LOCATE_STEP_MS = 25

export interface DecisionDeps {
  store: Store
  clock: Clock
  /** Where the execution is in this engine (the supervisor's mailbox answers; nothing moves). */
  locate(executionId: string): Promise<CancelPlan>
  worker(workerId: number): PooledWorker | undefined
  /**
   * The decision for an execution this engine holds parked (not on a worker, not queued): taken and committed
   * off any worker, then the execution is queued to go on. `absent` when it is not parked here (not this
   * engine's, or it moved meanwhile); undefined when this engine does not hold it at all.
   */
  decideParked(executionId: string, path: string, decision: Decision): Promise<DecideReply | undefined>
  /**
   * Another engine holds the execution (or none does yet): asks its holder to take the decision and waits for the
   * answer (remote-decisions.ts). Absent where the decision was itself asked for by another engine.
   */
  askHolder?(executionId: string, path: string, decision: Decision): Promise<TaskRunRecord>
}

const conflict = (message: string, details?: unknown, retryable = false) => new AppError(ErrorCode.Conflict, message, details, retryable)

/**
 * Delivers `decision` for the run at `path`; resolves with the run as committed. NOT_FOUND for an unknown execution
 * or task, CONFLICT when nothing waits for a decision there (or another engine runs it and did not answer in
 * time), INVALID_INPUT when the kind refuses the decision's inputs.
 */
export async function decideTask(deps: DecisionDeps, executionId: string, path: string, decision: Decision): Promise<TaskRunRecord> {
  const deadline = deps.clock.now() + LOCATE_MS
  for (;;) {
    const rec = await deps.store.executions.get(executionId)
    if (!rec) throw new AppError(ErrorCode.NotFound, `execution ${executionId} not found`)
    const run = await deps.store.executions.taskRun(executionId, path)
    if (!run) throw new AppError(ErrorCode.NotFound, `execution ${executionId} has no task ${path}`)
    if (isTerminalExecution(rec.state)) throw conflict(`execution ${executionId} is ${rec.state}: nothing waits for a decision`, { state: rec.state })
    const plan = await deps.locate(executionId)
    if (plan.kind === 'notHere') {
      const reply = await deps.decideParked(executionId, path, decision)
      if (reply === undefined) {
        if (deps.askHolder) return deps.askHolder(executionId, path, decision)
        throw conflict(`execution ${executionId} is run by another engine on this store; decide there`, { state: rec.state })
      }
      if (reply.kind === 'taken') return (await deps.store.executions.taskRun(executionId, path))!
      if (reply.kind === 'refused') throw new AppError(reply.error.code, reply.error.message, reply.error.details, reply.error.retryable === true)
    } else if (plan.kind === 'onWorker') {
      const w = deps.worker(plan.workerId)
      // A worker that died meanwhile never answers: its executions are recovered, and the decision looks again.
      const reply: DecideReply = w ? await untilDeath<DecideReply>(w, w.api.decide(executionId, path, decision) as Promise<DecideReply>).catch((): DecideReply => ({ kind: 'absent' })) : { kind: 'absent' }
      if (reply.kind === 'taken') return (await deps.store.executions.taskRun(executionId, path))!
      if (reply.kind === 'refused') throw new AppError(reply.error.code, reply.error.message, reply.error.details, reply.error.retryable === true)
    }
    // Queued, being handed to a worker, or it moved: it is there in a moment.
    if (deps.clock.now() > deadline) throw conflict(`execution ${executionId} is being resumed; try again`, { state: rec.state }, true)
    await deps.clock.sleep(LOCATE_STEP_MS)
  }
}

export interface ParkedDecisionDeps {
  store: Store
  clock: Clock
  parking: Parking
  /** Whether this engine holds the execution (created or adopted here, not ended). */
  holds(executionId: string): boolean
  locate(executionId: string): Promise<CancelPlan>
  /** Durable commits through the batcher, fenced by this engine. */
  commit(transitions: Transition[]): Promise<TransitionResult[]>
  /** The kinds' steps the workers plan with (the built-ins and the engine's task kind modules). */
  steps(): Promise<TaskSteps>
}

/**
 * A decision on an execution this engine holds parked: no actor is alive, so it is taken here with the same pure
 * logic and kinds' steps as on a worker, and the run's own transitions are committed, while nothing may queue the execution
 * (Parking.holding); then it runs on and its actor plans the rest from the store. Undefined when this engine does
 * not hold it; `absent` when it is not parked after all (it moved: the caller looks again).
 */
export async function decideParked(deps: ParkedDecisionDeps, id: string, path: string, decision: Decision): Promise<DecideReply | undefined> {
  if (!deps.holds(id)) return undefined
  return deps.parking.holding(id, async (): Promise<DecideReply> => {
    if ((await deps.locate(id)).kind !== 'notHere') return { kind: 'absent' }
    const snap = await deps.store.executions.snapshot(id)
    if (snap?.execution.state !== 'WAITING') return { kind: 'absent' }
    const step = nextExecutionState(viewOf(snap), { type: 'task.decide', path, decision }, deps.clock.now(), await deps.steps())
    if (step.refusal) return { kind: 'refused', error: step.refusal }
    const own = step.transitions.filter((t) => t.kind === 'task' && t.taskId === path)
    const bad = (await deps.commit(own)).find((r) => !r.ok)
    return bad && !bad.ok ? { kind: 'refused', error: bad.error } : { kind: 'taken' }
  })
}
