/** Execution DTOs: a summary for lists and a detail with every task run, attempt, error, output and timing. */
import type { ErrorInfo } from '../../runtime/errors.ts'
import type { TaskRunState } from '../../runtime/state/states.ts'
import type { ExecutionRecord, ExecutionSnapshot, TaskAttemptRecord, TaskRunRecord } from '../../runtime/store/types.ts'

const duration = (start?: number, end?: number): number | undefined =>
  start !== undefined && end !== undefined ? Math.max(0, end - start) : undefined

/** What lists show: the stored record without its inputs. `durationMs` is set once it has started and ended. */
export interface ExecutionSummary extends Omit<ExecutionRecord, 'inputs' | 'updatedAt'> {
  durationMs?: number
}

export interface AttemptDto extends TaskAttemptRecord {
  durationMs?: number
}

export interface TaskRunDto {
  taskId: string
  type: string
  needs: string[]
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
  history: AttemptDto[]
}

/** What `GET /executions/:id` shows: enough to diagnose a failure without reading logs. */
export interface ExecutionDetail extends ExecutionSummary {
  inputs: Record<string, unknown>
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
    error: e.error, createdAt: e.createdAt, startedAt: e.startedAt, endedAt: e.endedAt,
    durationMs: duration(e.startedAt, e.endedAt),
  })
}

function toTaskRun(run: TaskRunRecord, snap: ExecutionSnapshot): TaskRunDto {
  const def = snap.workflow.tasks.find((t) => t.id === run.taskId)
  return compact({
    taskId: run.taskId, type: def?.type ?? '?', needs: def?.needs ?? [], state: run.state, reason: run.reason,
    attempts: run.attempt, maxAttempts: (def?.retry?.max ?? 0) + 1, inputs: def?.inputs ?? {},
    output: run.output, error: run.error, startedAt: run.startedAt, endedAt: run.endedAt,
    durationMs: duration(run.startedAt, run.endedAt), nextAttemptAt: run.nextAttemptAt,
    history: run.attempts.map((a) => compact({ ...a, durationMs: duration(a.startedAt, a.endedAt) })),
  })
}

export function toExecutionDetail(snap: ExecutionSnapshot): ExecutionDetail {
  return {
    ...toExecutionSummary(snap.execution),
    inputs: snap.execution.inputs,
    updatedAt: snap.execution.updatedAt,
    tasks: snap.taskRuns.map((r) => toTaskRun(r, snap)),
  }
}
