/**
 * Running an execution again. `restart` re-runs a FAILED or CANCELLED execution in place, from the runs that did not
 * succeed (the store's `restart` transition, the one way out of a terminal state); `replay` creates a new execution
 * of the same workflow snapshot that reuses the recorded outputs of the tasks upstream of one task and runs the rest.
 */
import type { Clock } from '../../runtime/clock.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { newExecutionId } from '../../runtime/ids.ts'
import { isRestartable } from '../../runtime/state/states.ts'
import type { Transition, TransitionResult } from '../../runtime/store/checkpoint.ts'
import type { Store } from '../../runtime/store/store.ts'
import type { ExecutionRecord, ExecutionSnapshot } from '../../runtime/store/types.ts'
import { resolveInputs } from '../../runtime/workflow/inputs.ts'
import type { AnyTaskDef } from '../../runtime/workflow/model.ts'
import type { EngineEvent } from '../engine-types.ts'
import type { SubmitOptions } from './batcher.ts'
import type { CancelPlan } from './inbox.ts'

/** How long a restart waits for the execution's actor to be gone (it stops right after its terminal commit). */
const SETTLE_MS = 10_000

export interface RerunDeps {
  store: Store
  clock: Clock
  /** Durable, fail-fast commits through the batcher. */
  commit(transitions: Transition[], opts: SubmitOptions): Promise<TransitionResult[]>
  locate(executionId: string): Promise<CancelPlan>
  /** Why nothing may start now (the engine is shutting down), or undefined. */
  refused(): AppError | undefined
  /** This engine runs it from now on, and queues it. */
  run(executionId: string, workflowId: string): void
  emit(e: EngineEvent): void
}

const refusal = (r: TransitionResult): AppError | undefined =>
  r.ok ? undefined : new AppError(r.error.code, r.error.message, r.error.details, r.error.retryable === true)

/**
 * Restarts `id` in place: its failed, cancelled, interrupted and skipped runs run again with new attempts, SUCCESS
 * outputs are kept, RESTARTED is audited (with `by`). NOT_FOUND; CONFLICT unless it ended FAILED or CANCELLED.
 */
export async function restartExecution(deps: RerunDeps, id: string, by?: string): Promise<ExecutionRecord> {
  const refused = deps.refused()
  if (refused) throw refused
  const deadline = deps.clock.now() + SETTLE_MS
  for (;;) {
    const rec = await deps.store.executions.get(id)
    if (!rec) throw new AppError(ErrorCode.NotFound, `execution ${id} not found`, { id })
    if (!isRestartable(rec.state)) {
      throw new AppError(ErrorCode.Conflict, `execution ${id} is ${rec.state}: only a FAILED or CANCELLED execution can be restarted`, { state: rec.state })
    }
    // Its actor commits the end and stops a moment later: a restart queued before that would be dropped as a duplicate.
    if ((await deps.locate(id)).kind === 'notHere') break
    if (deps.clock.now() > deadline) throw new AppError(ErrorCode.Conflict, `execution ${id} is still stopping; try again`, { state: rec.state }, true)
    await deps.clock.sleep(25)
  }
  const [result] = await deps.commit([{ kind: 'restart', executionId: id, ...(by !== undefined ? { by } : {}) }], { failFast: true, durable: true })
  const bad = refusal(result!)
  if (bad) throw bad.code === ErrorCode.InvalidTransition ? new AppError(ErrorCode.Conflict, bad.message, bad.details) : bad
  const rec = (await deps.store.executions.get(id))!
  deps.run(id, rec.workflowId)
  deps.emit({ type: 'execution', executionId: id, workflowId: rec.workflowId, state: 'PENDING', at: deps.clock.now() })
  return rec
}

/** The ids of the tasks `from` needs, transitively (not `from` itself), in declaration order. */
export function upstreamOf(tasks: readonly AnyTaskDef[], from: string): string[] {
  const byId = new Map(tasks.map((t) => [t.id, t]))
  const seen = new Set<string>()
  const stack = [...(byId.get(from)?.needs ?? [])]
  while (stack.length > 0) {
    const id = stack.pop()!
    if (seen.has(id) || !byId.has(id)) continue
    seen.add(id)
    stack.push(...byId.get(id)!.needs)
  }
  return tasks.map((t) => t.id).filter((id) => seen.has(id))
}

export interface ReplayRequest {
  /** The task to run again from: it, and everything not upstream of it, runs; what it needs is reused. */
  from: string
  /** Inputs that replace the original's (the others are kept). */
  inputs?: Record<string, unknown>
  by?: string
}

/**
 * A new execution of `snapshot`'s workflow (the same revision) whose runs upstream of `from` are SUCCESS with the
 * outputs recorded in the original; it links to the original (`replayOf`). NOT_FOUND for an unknown task; CONFLICT
 * when a task upstream of it did not succeed (there is no output to reuse); INVALID_INPUT for inputs that do not fit.
 */
export async function replayExecution(deps: RerunDeps, snapshot: ExecutionSnapshot, req: ReplayRequest): Promise<ExecutionRecord> {
  const refused = deps.refused()
  if (refused) throw refused
  const { workflow, execution } = snapshot
  if (!workflow.tasks.some((t) => t.id === req.from)) {
    throw new AppError(ErrorCode.NotFound, `execution ${execution.id} has no task ${req.from}`, { path: 'from' })
  }
  const runs = new Map(snapshot.taskRuns.map((r) => [r.taskId, r]))
  const upstream = upstreamOf(workflow.tasks, req.from)
  const missing = upstream.filter((t) => runs.get(t)?.state !== 'SUCCESS')
  if (missing.length > 0) {
    throw new AppError(ErrorCode.Conflict, `cannot replay from ${req.from}: ${missing.join(', ')} did not succeed in ${execution.id}, so there is no output to reuse`,
      { tasks: missing })
  }
  const inputs = resolveInputs(workflow.inputs, { ...execution.inputs, ...req.inputs })
  const reused = Object.fromEntries(upstream.map((t) => [t, runs.get(t)!.output]))
  const now = deps.clock.now()
  const id = newExecutionId(now)
  const trigger = { type: 'api' as const, data: { replayOf: execution.id, ...(req.by !== undefined ? { by: req.by } : {}) } }
  const [created] = await deps.commit([{
    kind: 'create', executionId: id, workflow, revision: execution.revision, inputs, trigger,
    replay: { of: execution.id, from: req.from, reused },
  }], { atomic: true, failFast: true, durable: true })
  const bad = refusal(created!)
  if (bad) throw bad
  deps.run(id, workflow.id)
  deps.emit({ type: 'execution', executionId: id, workflowId: workflow.id, state: 'PENDING', at: now })
  return (await deps.store.executions.get(id))!
}
