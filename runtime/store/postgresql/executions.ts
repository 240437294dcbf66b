/** Execution and task-run repository on PostgreSQL: creation, reads, listing with filters and pagination. */

import { listedTasks } from '../../workflow/task-lists.ts'
import type { Workflow } from '../../workflow/model.ts'
import { toJson } from '../sqlite/json.ts'
import { toAttempt, toExecution, toTaskRun, withFiles, type AttemptRow, type ExecutionRow, type TaskRunRow } from '../sqlite/executions.ts'
import type { ActiveExecution, ExecutionRecord, ExecutionSnapshot, ListExecutionsQuery, Page, ParentLink, TaskAttemptRecord, TaskRunRecord, TriggerInfo } from '../types.ts'
import { FileRepo } from './files.ts'
import { insertRows, marks, type Param, type Q } from './sql.ts'

export class ExecutionRepo {
  constructor(private readonly q: Q) {}

  /** See sqlite/executions.ts `insert` (call inside a transaction). */
  async insert(e: {
    id: string; workflow: Workflow; revision: number; inputs: Record<string, unknown>; trigger: TriggerInfo; now: number; owner?: string
    labels?: Record<string, string>
    replay?: { of: string; from: string; reused: Readonly<Record<string, unknown>> }
    parent?: ParentLink
  }): Promise<void> {
    const labels = e.labels && Object.keys(e.labels).length > 0 ? e.labels : undefined
    await this.q.run(`INSERT INTO executions (id, workflow_id, revision, model, state, trigger_type, trigger_data, scheduled_at,
        inputs, created_at, updated_at, owner, labels, replay_of, replay_from, parent_execution_id, parent_task_id, subflow_depth)
        VALUES (?, ?, ?, ?, 'PENDING', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
      e.id, e.workflow.id, e.revision, JSON.stringify(e.workflow), e.trigger.type, toJson(e.trigger.data),
      e.trigger.scheduledAt ?? null, JSON.stringify(e.inputs), e.now, e.now, e.owner ?? null, toJson(labels),
      e.replay?.of ?? null, e.replay?.from ?? null, e.parent?.executionId ?? null, e.parent?.taskId ?? null, e.parent?.depth ?? 0,
    ])
    const reused = e.replay?.reused
    // One multi-row INSERT for every run: a round trip per execution, not per task.
    const rows: Param[][] = listedTasks(e.workflow).map((t, i) =>
      reused && t.list === 'tasks' && Object.hasOwn(reused, t.task.id)
        ? [e.id, t.path, i, 'SUCCESS', 'REUSED', toJson(reused[t.task.id]), e.now, t.task.kind]
        : [e.id, t.path, i, 'PENDING', null, null, e.now, t.task.kind])
    await insertRows(this.q, 'INSERT INTO task_runs (execution_id, task_id, position, state, reason, output, updated_at, kind, attempt)',
      '(?, ?, ?, ?, ?, ?, ?, ?, 0)', rows)
    if (labels) {
      await insertRows(this.q, 'INSERT INTO execution_labels (execution_id, key, value, created_at)', '(?, ?, ?, ?)',
        Object.entries(labels).map(([k, v]) => [e.id, k, v, e.now]))
    }
  }

  async exists(id: string): Promise<boolean> {
    return (await this.q.get('SELECT 1 AS x FROM executions WHERE id = ?', [id])) !== undefined
  }

  async get(id: string): Promise<ExecutionRecord | undefined> {
    const r = await this.q.get<ExecutionRow>('SELECT * FROM executions WHERE id = ?', [id])
    return r ? toExecution(r) : undefined
  }

  async snapshot(id: string): Promise<ExecutionSnapshot | undefined> {
    const r = await this.q.get<ExecutionRow>('SELECT * FROM executions WHERE id = ?', [id])
    if (!r) return undefined
    return { execution: toExecution(r), workflow: JSON.parse(r.model) as Workflow, taskRuns: await this.taskRuns(id) }
  }

  async taskRuns(executionId: string): Promise<TaskRunRecord[]> {
    const files = await new FileRepo(this.q).byTask(executionId)
    const attempts = new Map<string, TaskAttemptRecord[]>()
    for (const a of await this.q.all<AttemptRow>('SELECT * FROM task_attempts WHERE execution_id = ? ORDER BY task_id, attempt', [executionId])) {
      const list = attempts.get(a.task_id) ?? []
      list.push(toAttempt(a))
      attempts.set(a.task_id, list)
    }
    // NULLS FIRST: SQLite's order for a NULL iteration (the parent run before its iterations).
    return (await this.q.all<TaskRunRow>('SELECT * FROM task_runs WHERE execution_id = ? ORDER BY position, iteration NULLS FIRST', [executionId]))
      .map((t) => withFiles(toTaskRun(t, attempts.get(t.task_id) ?? []), files.get(t.task_id)))
  }

  async taskRun(executionId: string, taskId: string): Promise<TaskRunRecord | undefined> {
    const r = await this.q.get<TaskRunRow>('SELECT * FROM task_runs WHERE execution_id = ? AND task_id = ?', [executionId, taskId])
    if (!r) return undefined
    const attempts = (await this.q.all<AttemptRow>('SELECT * FROM task_attempts WHERE execution_id = ? AND task_id = ? ORDER BY attempt',
      [executionId, taskId])).map(toAttempt)
    return withFiles(toTaskRun(r, attempts), (await new FileRepo(this.q).byTask(executionId)).get(taskId))
  }

  async list(q: ListExecutionsQuery = {}): Promise<Page<ExecutionRecord>> {
    const where: string[] = []
    const args: (string | number)[] = []
    if (q.workflowId) { where.push('e.workflow_id = ?'); args.push(q.workflowId) }
    if (q.states?.length) { where.push(`e.state IN (${marks(q.states.length)})`); args.push(...q.states) }
    const limit = q.limit ?? 50
    const offset = q.offset ?? 0
    const [first, ...more] = Object.entries(q.labels ?? {})
    // On the label index's own copy of created_at when a label drives the query (as sqlite/executions.ts).
    const created = first ? 'l.created_at' : 'e.created_at'
    if (q.since !== undefined) { where.push(`${created} >= ?`); args.push(q.since) }
    if (q.until !== undefined) { where.push(`${created} < ?`); args.push(q.until) }
    if (!first) {
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : ''
      const total = (await this.q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM executions e ${clause}`, args))!.n
      const rows = await this.q.all<ExecutionRow>(`SELECT e.* FROM executions e ${clause} ORDER BY e.created_at DESC, e.id DESC LIMIT ? OFFSET ?`,
        [...args, limit, offset])
      return { items: rows.map(toExecution), total, limit, offset }
    }
    for (const [k, v] of more) {
      where.push('EXISTS (SELECT 1 FROM execution_labels m WHERE m.execution_id = l.execution_id AND m.key = ? AND m.value = ?)')
      args.push(k, v)
    }
    const from = `FROM execution_labels l JOIN executions e ON e.id = l.execution_id WHERE l.key = ? AND l.value = ?${where.length ? ` AND ${where.join(' AND ')}` : ''}`
    const all = [first[0], first[1], ...args]
    const total = (await this.q.get<{ n: number }>(`SELECT COUNT(*) AS n ${from}`, all))!.n
    const rows = await this.q.all<ExecutionRow>(`SELECT e.* ${from} ORDER BY l.created_at DESC, l.execution_id DESC LIMIT ? OFFSET ?`, [...all, limit, offset])
    return { items: rows.map(toExecution), total, limit, offset }
  }

  async listActive(): Promise<ActiveExecution[]> {
    return (await this.q.all<ExecutionRow & { owner: string | null }>(
      "SELECT * FROM executions WHERE state IN ('PENDING','RUNNING','WAITING') ORDER BY created_at, id"))
      .map((r) => (r.owner ? { ...toExecution(r), owner: r.owner } : toExecution(r)))
  }

  async endedChildren(owner: string): Promise<{ executionId: string; taskId: string; childId: string }[]> {
    return (await this.q.all<{ execution_id: string; task_id: string; child: string }>(
      `SELECT t.execution_id, t.task_id, t.child_execution_id AS child FROM task_runs t
        JOIN executions p ON p.id = t.execution_id JOIN executions c ON c.id = t.child_execution_id
        WHERE t.state = 'WAITING' AND t.reason = 'SUBFLOW' AND t.child_execution_id IS NOT NULL AND p.owner = ?
          AND c.state IN ('SUCCESS', 'FAILED', 'CANCELLED')
        ORDER BY t.execution_id, t.task_id`, [owner]))
      .map((r) => ({ executionId: r.execution_id, taskId: r.task_id, childId: r.child }))
  }

  async countByState(): Promise<Record<string, number>> {
    const out: Record<string, number> = {}
    for (const r of await this.q.all<{ state: string; n: number }>('SELECT state, COUNT(*) AS n FROM executions GROUP BY state')) out[r.state] = r.n
    return out
  }
}
