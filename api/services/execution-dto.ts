/** Execution DTOs: a summary for lists and a detail with every task run, attempt, error, output and timing. */
import type { ErrorInfo } from '../../runtime/errors.ts'
import type { TaskRunState } from '../../runtime/state/states.ts'
import type { ExecutionRecord, ExecutionSnapshot, TaskAttemptRecord, TaskRunRecord } from '../../runtime/store/types.ts'
import type { AnyTaskDef } from '../../runtime/workflow/model.ts'
import { taskAtPath } from '../../runtime/workflow/run-path.ts'
import { tasksById } from '../../runtime/workflow/task-lists.ts'
import { describeTask } from '../../runtime/workflow/tasks/registry.ts'

const duration = (start?: number, end?: number): number | undefined =>
  start !== undefined && end !== undefined ? Math.max(0, end - start) : undefined

/** What lists show: the stored record without its inputs. `durationMs` is set once it has started and ended. */
export interface ExecutionSummary extends Omit<ExecutionRecord, 'inputs' | 'outputs' | 'updatedAt'> {
  durationMs?: number
}

export interface AttemptDto extends TaskAttemptRecord {
  durationMs?: number
}

export interface TaskRunDto {
  /** The run's path: a top-level task's id, an iteration `each[3]`, a nested task `sub/child`. */
  taskId: string
  /** The run this one belongs to (`each` for `each[3]`). */
  parentPath?: string
  /** The iteration index, for a run that is one. */
  iteration?: number
  /** The task's kind (`plugin`…). */
  kind: string
  /** What the task does, as its kind describes it: a plugin task's `namespace/plugin.action`. */
  type: string
  needs: string[]
  /** The task may fail without failing the execution (its failure is the ALLOWED_FAILURE warning). */
  allowFailure?: true
  /** The task's `if:` condition, as written (its CEL expression). */
  if?: string
  state: TaskRunState
  reason?: string
  attempts: number
  maxAttempts: number
  /** The task's declared inputs, templates unresolved (secret values never appear here). */
  inputs: Record<string, unknown>
  output?: unknown
  error?: ErrorInfo
  startedAt?: number
  endedAt?: number
  durationMs?: number
  nextAttemptAt?: number
  /** A subflow run's child execution (its latest attempt's): its detail is `GET /executions/<id>`. */
  childExecutionId?: string
  history: AttemptDto[]
}

/** What `GET /executions/:id` shows: enough to diagnose a failure without reading logs. */
export interface ExecutionDetail extends ExecutionSummary {
  inputs: Record<string, unknown>
  /** The workflow's `outputs:` as rendered when the execution succeeded (masked like task outputs). */
  outputs?: Record<string, unknown>
  updatedAt: number
  tasks: TaskRunDto[]
}

/** Drops keys whose value is undefined (exactOptional-friendly, smaller JSON). */
function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k]
  return o
}

export function toExecutionSummary(e: ExecutionRecord): ExecutionSummary {
  return compact({
    id: e.id, workflowId: e.workflowId, revision: e.revision, state: e.state, reason: e.reason, trigger: e.trigger,
    labels: e.labels, error: e.error, replayOf: e.replayOf, parent: e.parent, createdAt: e.createdAt, startedAt: e.startedAt, endedAt: e.endedAt,
    durationMs: duration(e.startedAt, e.endedAt),
  })
}

/** What the event stream's `end` event carries: the summary, and the workflow's `outputs:` when it succeeded. */
export interface ExecutionEnd extends ExecutionSummary {
  outputs?: Record<string, unknown>
}

export function toExecutionEnd(e: ExecutionRecord): ExecutionEnd {
  return e.outputs !== undefined ? { ...toExecutionSummary(e), outputs: e.outputs } : toExecutionSummary(e)
}

/** A task's declared inputs, for the kinds that have them. */
function declaredInputs(def: AnyTaskDef | undefined): Record<string, unknown> {
  const inputs = def && 'inputs' in def ? def.inputs : undefined
  return inputs !== null && typeof inputs === 'object' && !Array.isArray(inputs) ? (inputs as Record<string, unknown>) : {}
}

function toTaskRun(run: TaskRunRecord, def: AnyTaskDef | undefined): TaskRunDto {
  return compact({
    taskId: run.taskId, parentPath: run.parentPath, iteration: run.iteration, kind: run.kind,
    type: def ? describeTask(def) : '?', needs: def?.needs ?? [], allowFailure: def?.allowFailure === true ? true as const : undefined, if: def?.if,
    state: run.state, reason: run.reason,
    attempts: run.attempt, maxAttempts: (def?.retry?.max ?? 0) + 1, inputs: declaredInputs(def),
    output: run.output, error: run.error, startedAt: run.startedAt, endedAt: run.endedAt,
    durationMs: duration(run.startedAt, run.endedAt), nextAttemptAt: run.nextAttemptAt, childExecutionId: run.childExecutionId,
    history: run.attempts.map((a) => compact({ ...a, durationMs: duration(a.startedAt, a.endedAt) })),
  })
}

export function toExecutionDetail(snap: ExecutionSnapshot): ExecutionDetail {
  const tasks = tasksById(snap.workflow)
  return {
    ...toExecutionSummary(snap.execution),
    inputs: snap.execution.inputs,
    ...(snap.execution.outputs !== undefined ? { outputs: snap.execution.outputs } : {}),
    updatedAt: snap.execution.updatedAt,
    tasks: snap.taskRuns.map((r) => toTaskRun(r, taskAtPath(tasks, r.taskId))),
  }
}
