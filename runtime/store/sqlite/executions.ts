/** Execution and task-run repository: creation, reads, listing with filters and pagination. */

import type { Database } from 'bun:sqlite'
import type { ErrorInfo } from '../../errors.ts'
import type { ExecutionState, TaskRunState } from '../../state/states.ts'
import type { Workflow } from '../../workflow/model.ts'
import { listedTasks } from '../../workflow/task-lists.ts'
import { compact, fromJson, toJson } from './json.ts'
import type { ActiveExecution, ExecutionRecord, ExecutionSnapshot, ListExecutionsQuery, Page, ParentLink, StoredFile, TaskAttemptRecord, TaskRunRecord, TriggerInfo } from '../types.ts'
import { FileRepo } from './files.ts'

export interface ExecutionRow {
  id: string; workflow_id: string; revision: number; model: string; state: ExecutionState; reason: string | null
  trigger_type: string; trigger_data: string | null; scheduled_at: number | null; inputs: string; outputs: string | null; error: string | null
  labels: string | null
  created_at: number; started_at: number | null; ended_at: number | null; updated_at: number
  replay_of: string | null; replay_from: string | null
  parent_execution_id: string | null; parent_task_id: string | null; subflow_depth: number
}
export interface TaskRunRow {
  execution_id: string; task_id: string; position: number; state: TaskRunState; reason: string | null; attempt: number
  output: string | null; error: string | null; next_attempt_at: number | null; started_at: number | null
  ended_at: number | null; updated_at: number; parent_path: string | null; kind: string; iteration: number | null
  attempt_base: number; child_execution_id: string | null
}
export interface AttemptRow {
  execution_id: string; task_id: string; attempt: number; state: TaskRunState; runner: string | null
  error: string | null; started_at: number; ended_at: number | null
}

export const toExecution = (r: ExecutionRow): ExecutionRecord =>
  compact({
    id: r.id, workflowId: r.workflow_id, revision: r.revision, state: r.state, reason: r.reason ?? undefined,
    trigger: compact({
      type: r.trigger_type as TriggerInfo['type'],
      data: fromJson<Record<string, unknown>>(r.trigger_data),
      scheduledAt: r.scheduled_at ?? undefined,
    }),
    inputs: fromJson<Record<string, unknown>>(r.inputs) ?? {}, outputs: fromJson<Record<string, unknown>>(r.outputs), labels: fromJson<Record<string, string>>(r.labels),
    error: fromJson<ErrorInfo>(r.error),
    replayOf: r.replay_of !== null ? { executionId: r.replay_of, fromTask: r.replay_from ?? '' } : undefined,
    parent: r.parent_execution_id !== null ? { executionId: r.parent_execution_id, taskId: r.parent_task_id ?? '', depth: r.subflow_depth } : undefined,
    createdAt: r.created_at, startedAt: r.started_at ?? undefined, endedAt: r.ended_at ?? undefined, updatedAt: r.updated_at,
  })

export const toAttempt = (r: AttemptRow): TaskAttemptRecord =>
  compact({
    attempt: r.attempt, state: r.state, runner: r.runner ?? undefined, error: fromJson<ErrorInfo>(r.error),
    startedAt: r.started_at, endedAt: r.ended_at ?? undefined,
  })

export const withFiles = (run: TaskRunRecord, files: StoredFile[] | undefined): TaskRunRecord => (files?.length ? { ...run, files } : run)

export const toTaskRun = (r: TaskRunRow, attempts: TaskAttemptRecord[]): TaskRunRecord =>
  compact({
    executionId: r.execution_id, taskId: r.task_id, parentPath: r.parent_path ?? undefined, kind: r.kind,
    iteration: r.iteration ?? undefined, position: r.position, state: r.state, reason: r.reason ?? undefined,
    attempt: r.attempt, attemptBase: r.attempt_base || undefined, output: fromJson<unknown>(r.output), error: fromJson<ErrorInfo>(r.error),
    nextAttemptAt: r.next_attempt_at ?? undefined, childExecutionId: r.child_execution_id ?? undefined, startedAt: r.started_at ?? undefined,
    endedAt: r.ended_at ?? undefined, updatedAt: r.updated_at, attempts,
  })

export class ExecutionRepo {
  constructor(private readonly db: Database) {}

  /**
   * Inserts a PENDING execution and one PENDING run per task of every list, keyed by its path (`fetch`,
   * `finally/cleanup`), and its labels (call inside a transaction); a replay's reused runs are SUCCESS with the
   * output recorded in the original instead.
   */
  insert(e: {
    id: string; workflow: Workflow; revision: number; inputs: Record<string, unknown>; trigger: TriggerInfo; now: number; owner?: string
    labels?: Record<string, string>
    replay?: { of: string; from: string; reused: Readonly<Record<string, unknown>> }
    parent?: ParentLink
  }): void {
    const labels = e.labels && Object.keys(e.labels).length > 0 ? e.labels : undefined
    this.db.query(`INSERT INTO executions (id, workflow_id, revision, model, state, trigger_type, trigger_data, scheduled_at,
        inputs, created_at, updated_at, owner, labels, replay_of, replay_from, parent_execution_id, parent_task_id, subflow_depth)
        VALUES (?, ?, ?, ?, 'PENDING', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      e.id, e.workflow.id, e.revision, JSON.stringify(e.workflow), e.trigger.type, toJson(e.trigger.data),
      e.trigger.scheduledAt ?? null, JSON.stringify(e.inputs), e.now, e.now, e.owner ?? null, toJson(labels),
      e.replay?.of ?? null, e.replay?.from ?? null, e.parent?.executionId ?? null, e.parent?.taskId ?? null, e.parent?.depth ?? 0,
    )
    const insertTask = this.db.query(`INSERT INTO task_runs (execution_id, task_id, position, state, attempt, updated_at, kind)
        VALUES (?, ?, ?, 'PENDING', 0, ?, ?)`)
    const insertReused = this.db.query(`INSERT INTO task_runs (execution_id, task_id, position, state, reason, attempt, output, updated_at, kind)
        VALUES (?, ?, ?, 'SUCCESS', 'REUSED', 0, ?, ?, ?)`)
    const reused = e.replay?.reused
    listedTasks(e.workflow).forEach((t, i) => {
      if (reused && t.list === 'tasks' && Object.hasOwn(reused, t.task.id)) insertReused.run(e.id, t.path, i, toJson(reused[t.task.id]), e.now, t.task.kind)
      else insertTask.run(e.id, t.path, i, e.now, t.task.kind)
    })
    if (labels) {
      const insertLabel = this.db.query('INSERT INTO execution_labels (execution_id, key, value, created_at) VALUES (?, ?, ?, ?)')
      for (const [k, v] of Object.entries(labels)) insertLabel.run(e.id, k, v, e.now)
    }
  }

  get(id: string): ExecutionRecord | undefined {
    const r = this.db.query<ExecutionRow, [string]>('SELECT * FROM executions WHERE id = ?').get(id)
    return r ? toExecution(r) : undefined
  }

  /** The execution, its workflow snapshot and its task runs in declaration order. */
  snapshot(id: string): ExecutionSnapshot | undefined {
    const r = this.db.query<ExecutionRow, [string]>('SELECT * FROM executions WHERE id = ?').get(id)
    if (!r) return undefined
    return { execution: toExecution(r), workflow: JSON.parse(r.model) as Workflow, taskRuns: this.taskRuns(id) }
  }

  taskRuns(executionId: string): TaskRunRecord[] {
    const files = new FileRepo(this.db).byTask(executionId)
    const attempts = new Map<string, TaskAttemptRecord[]>()
    for (const a of this.db
      .query<AttemptRow, [string]>('SELECT * FROM task_attempts WHERE execution_id = ? ORDER BY task_id, attempt')
      .all(executionId)) {
      const list = attempts.get(a.task_id) ?? []
      list.push(toAttempt(a))
      attempts.set(a.task_id, list)
    }
    return this.db
      .query<TaskRunRow, [string]>('SELECT * FROM task_runs WHERE execution_id = ? ORDER BY position, iteration')
      .all(executionId)
      .map((t) => withFiles(toTaskRun(t, attempts.get(t.task_id) ?? []), files.get(t.task_id)))
  }

  taskRun(executionId: string, taskId: string): TaskRunRecord | undefined {
    const r = this.db
      .query<TaskRunRow, [string, string]>('SELECT * FROM task_runs WHERE execution_id = ? AND task_id = ?')
      .get(executionId, taskId)
    if (!r) return undefined
    const attempts = this.db
      .query<AttemptRow, [string, string]>('SELECT * FROM task_attempts WHERE execution_id = ? AND task_id = ? ORDER BY attempt')
      .all(executionId, taskId).map(toAttempt)
    return withFiles(toTaskRun(r, attempts), new FileRepo(this.db).byTask(executionId).get(taskId))
  }

  list(q: ListExecutionsQuery = {}): Page<ExecutionRecord> {
    const where: string[] = []
    const args: (string | number)[] = []
    if (q.workflowId) { where.push('e.workflow_id = ?'); args.push(q.workflowId) }
    if (q.states?.length) { where.push(`e.state IN (${q.states.map(() => '?').join(',')})`); args.push(...q.states) }
    const limit = q.limit ?? 50
    const offset = q.offset ?? 0
    const [first, ...more] = Object.entries(q.labels ?? {})
    // On the label index's own copy of created_at when a label drives the query, so the range narrows that index too.
    const created = first ? 'l.created_at' : 'e.created_at'
    if (q.since !== undefined) { where.push(`${created} >= ?`); args.push(q.since) }
    if (q.until !== undefined) { where.push(`${created} < ?`); args.push(q.until) }
    if (!first) {
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : ''
      const total = this.db.query<{ n: number }, (string | number)[]>(`SELECT COUNT(*) AS n FROM executions e ${clause}`).get(...args)!.n
      const rows = this.db.query<ExecutionRow, (string | number)[]>(
        `SELECT e.* FROM executions e ${clause} ORDER BY e.created_at DESC, e.id DESC LIMIT ? OFFSET ?`).all(...args, limit, offset)
      return { items: rows.map(toExecution), total, limit, offset }
    }
    // Driven by the first label's index, newest first (its created_at is the execution's); each other label is
    // one primary-key probe per candidate.
    for (const [k, v] of more) {
      where.push('EXISTS (SELECT 1 FROM execution_labels m WHERE m.execution_id = l.execution_id AND m.key = ? AND m.value = ?)')
      args.push(k, v)
    }
    const from = `FROM execution_labels l JOIN executions e ON e.id = l.execution_id WHERE l.key = ? AND l.value = ?${where.length ? ` AND ${where.join(' AND ')}` : ''}`
    const all = [first[0], first[1], ...args]
    const total = this.db.query<{ n: number }, (string | number)[]>(`SELECT COUNT(*) AS n ${from}`).get(...all)!.n
    const rows = this.db.query<ExecutionRow, (string | number)[]>(
      `SELECT e.* ${from} ORDER BY l.created_at DESC, l.execution_id DESC LIMIT ? OFFSET ?`).all(...all, limit, offset)
    return { items: rows.map(toExecution), total, limit, offset }
  }

  /** Non-terminal executions, oldest first, with the engine that drives each: what a supervisor may resume. */
  listActive(): ActiveExecution[] {
    return this.db
      .query<ExecutionRow & { owner: string | null }, []>(`SELECT * FROM executions WHERE state IN ('PENDING','RUNNING','WAITING')
        ORDER BY created_at, id`)
      .all()
      .map((r) => (r.owner ? { ...toExecution(r), owner: r.owner } : toExecution(r)))
  }

  /** See ExecutionRepository.endedChildren: from the partial index of runs waiting for a child. */
  endedChildren(owner: string): { executionId: string; taskId: string; childId: string }[] {
    return this.db.query<{ execution_id: string; task_id: string; child: string }, [string]>(
      `SELECT t.execution_id, t.task_id, t.child_execution_id AS child FROM task_runs t
        JOIN executions p ON p.id = t.execution_id JOIN executions c ON c.id = t.child_execution_id
        WHERE t.state = 'WAITING' AND t.reason = 'SUBFLOW' AND t.child_execution_id IS NOT NULL AND p.owner = ?
          AND c.state IN ('SUCCESS', 'FAILED', 'CANCELLED')
        ORDER BY t.execution_id, t.task_id`).all(owner)
      .map((r) => ({ executionId: r.execution_id, taskId: r.task_id, childId: r.child }))
  }

  countByState(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const r of this.db.query<{ state: string; n: number }, []>('SELECT state, COUNT(*) AS n FROM executions GROUP BY state').all())
      out[r.state] = r.n
    return out
  }

}
