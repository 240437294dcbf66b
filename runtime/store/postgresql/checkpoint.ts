/**
 * The PostgreSQL checkpoint writer: applies state transitions, each with its audit event, checked against the
 * state tables, inside the caller's transaction (store.ts holds the commit lock). The rules are
 * sqlite/checkpoint.ts's, transition for transition; only the SQL dialect and the awaits differ. The writes whose
 * answers nothing reads — audit rows, the state updates after their checks, attempts — are sent without waiting
 * (`Q.send`, pipelined on the connection in order): a transition waits for its one check read, not for each write,
 * which is most of the time a commit holds the commit lock.
 */

import { ErrorCode, type ErrorInfo } from '../../errors.ts'
import {
  auditTypeForExecution, auditTypeForTask, checkExecutionTransition, checkTaskTransition, isRestartable, isRestartedTask,
  isTerminalTask, isWaitReason, WaitReason, type ExecutionState, type TaskRunState,
} from '../../state/states.ts'
import type {
  AddIterations, AdmitExecution, ClaimExecution, CreateExecution, CronFireTransition, ExecutionTransition, RequestCancel, RequestDecision,
  RestartExecution, SettleDecision, TaskTransition,
  Transition, TransitionResult,
} from '../checkpoint.ts'
import { atCapacity } from '../checkpoint.ts'
import { admissionWindow, decideCreate, mayAdmit, QUEUED_REASON } from '../../state/concurrency.ts'
import { terminateUnfinished } from '../../state/terminate.ts'
import type { ConcurrencyPolicy } from '../../workflow/model.ts'
import { isLaterListPath } from '../../workflow/task-lists.ts'
import { toJson } from '../sqlite/json.ts'
import { AuditRepo } from './audit.ts'
import { ConcurrencyRepo } from './concurrency.ts'
import { DecisionRequestRepo } from './decision-requests.ts'
import { CronFireRepo } from './cron-fires.ts'
import { LIVE_OWNER } from './engines.ts'
import { ExecutionRepo } from './executions.ts'
import { FileRepo } from './files.ts'
import { insertRows, type Q } from './sql.ts'

const invalid = (what: string, from: string, to: string, reason: string | undefined): TransitionResult => ({
  ok: false,
  error: to === 'WAITING' && !isWaitReason(reason)
    ? { code: ErrorCode.InvalidTransition, message: `${what}: WAITING needs a wait reason (${Object.values(WaitReason).join(', ')}), not ${JSON.stringify(reason ?? null)}`, details: { from, to, reason } }
    : { code: ErrorCode.InvalidTransition, message: `${what}: ${from} → ${to} is not an allowed transition`, details: { from, to } },
})
const notFound = (what: string): TransitionResult => ({ ok: false, error: { code: ErrorCode.NotFound, message: `${what} not found` } })
const conflict = (message: string, details?: Record<string, unknown>): TransitionResult =>
  ({ ok: false, error: { code: ErrorCode.Conflict, message, ...(details ? { details } : {}) } })
const fenced = (executionId: string, owner: string | undefined, holder: string | null): TransitionResult | undefined =>
  owner === undefined || holder === owner ? undefined
    : conflict(`execution ${executionId} is held by another engine (${holder ?? 'none'}); this engine (${owner}) must claim it first`, { owner: holder })

interface ExecRow { state: ExecutionState; reason: string | null; workflow_id: string; owner: string | null }
const RUN_ORDER = 'ORDER BY position, iteration NULLS FIRST'

export class CheckpointWriter {
  private readonly executions: ExecutionRepo
  private readonly fires: CronFireRepo
  private readonly slots: ConcurrencyRepo
  private readonly decisions: DecisionRequestRepo
  private readonly files: FileRepo
  private readonly audits: AuditRepo

  constructor(private readonly q: Q) {
    this.files = new FileRepo(q)
    this.executions = new ExecutionRepo(q)
    this.fires = new CronFireRepo(q)
    this.slots = new ConcurrencyRepo(q)
    this.decisions = new DecisionRequestRepo(q)
    this.audits = new AuditRepo(q)
  }

  /** Applies the transitions in order inside the caller's transaction, one result each. */
  async apply(batch: readonly Transition[], now: number, owner?: string): Promise<TransitionResult[]> {
    const out: TransitionResult[] = []
    for (const t of batch) out.push(await this.applyOne(t, now, owner))
    return out
  }

  private async applyOne(t: Transition, now: number, owner: string | undefined): Promise<TransitionResult> {
    switch (t.kind) {
      case 'execution': return this.applyExecution(t, now, owner)
      case 'task': return this.applyTask(t, now, owner)
      case 'audit':
        this.audit(now, t.type, t.executionId, t.taskId, t.workflowId, t.data)
        return { ok: true, changed: true }
      case 'create': return this.create(t, now, owner)
      case 'cronFire': return this.cronFire(t, now)
      case 'claim': return this.claim(t, now, owner)
      case 'requestCancel': return this.requestCancel(t, now, owner)
      case 'requestDecision': return this.requestDecision(t, now, owner)
      case 'settleDecision': return this.settleDecision(t, now)
      case 'admit': return this.admit(t, now, owner)
      case 'restart': return this.restart(t, now, owner)
      case 'iterations': return this.iterations(t, now, owner)
    }
  }

  private execRow(id: string): Promise<ExecRow | undefined> {
    return this.q.get<ExecRow>('SELECT state, reason, workflow_id, owner FROM executions WHERE id = ?', [id])
  }

  private async iterations(t: AddIterations, now: number, owner: string | undefined): Promise<TransitionResult> {
    const row = await this.q.get<{ position: number; owner: string | null }>(
      'SELECT t.position, e.owner FROM task_runs t JOIN executions e ON e.id = t.execution_id WHERE t.execution_id = ? AND t.task_id = ?',
      [t.executionId, t.parent])
    if (!row) return notFound(`task run ${t.executionId}/${t.parent}`)
    const refused = fenced(t.executionId, owner, row.owner)
    if (refused) return refused
    const values = Array.from({ length: Math.max(0, t.count) }, (_, i) => [t.executionId, `${t.parent}[${i}]`, row.position, now, t.taskKind, t.parent, i])
    const added = await insertRows(this.q, 'INSERT INTO task_runs (execution_id, task_id, position, state, attempt, updated_at, kind, parent_path, iteration)',
      "(?, ?, ?, 'PENDING', 0, ?, ?, ?, ?)", values, 'ON CONFLICT DO NOTHING')
    return { ok: true, changed: added > 0 }
  }

  private async create(t: CreateExecution, now: number, owner: string | undefined): Promise<TransitionResult> {
    if (await this.executions.exists(t.executionId)) return conflict(`execution ${t.executionId} exists already`)
    await this.executions.insert({
      id: t.executionId, workflow: t.workflow, revision: t.revision, inputs: t.inputs, trigger: t.trigger, now,
      ...(owner !== undefined ? { owner } : {}), ...(t.labels ? { labels: t.labels } : {}), ...(t.replay ? { replay: t.replay } : {}),
      ...(t.parent ? { parent: t.parent } : {}),
    })
    this.audit(now, 'CREATED', t.executionId, undefined, t.workflow.id, {
      trigger: t.trigger, revision: t.revision, ...(t.labels && Object.keys(t.labels).length ? { labels: t.labels } : {}),
      ...(t.replay ? { replayOf: t.replay.of, from: t.replay.from, reused: Object.keys(t.replay.reused) } : {}),
      ...(t.parent ? { parent: t.parent } : {}),
    })
    if (t.replay) await this.files.copyRuns(t.replay.of, t.executionId, Object.keys(t.replay.reused), now)
    const policy = t.workflow.concurrency
    if (policy) await this.admitNew(t.executionId, t.workflow.id, policy, now)
    return { ok: true, changed: true }
  }

  private async restart(t: RestartExecution, now: number, owner: string | undefined): Promise<TransitionResult> {
    const row = await this.execRow(t.executionId)
    if (!row) return notFound(`execution ${t.executionId}`)
    if (!isRestartable(row.state)) {
      return { ok: false, error: { code: ErrorCode.InvalidTransition, message: `execution ${t.executionId}: only a FAILED or CANCELLED execution can be restarted, not ${row.state}`, details: { from: row.state, to: 'PENDING' } } }
    }
    const runs = await this.q.all<{ task_id: string; state: TaskRunState; attempt: number }>(
      `SELECT task_id, state, attempt FROM task_runs WHERE execution_id = ? ${RUN_ORDER}`, [t.executionId])
    const again = runs.filter((r) => isRestartedTask(r.state) || isLaterListPath(r.task_id))
    await this.q.run(`UPDATE executions SET state = 'PENDING', reason = 'RESTARTED', error = NULL, started_at = NULL, ended_at = NULL,
        updated_at = ?, owner = COALESCE(?, owner) WHERE id = ?`, [now, owner ?? null, t.executionId])
    for (const r of again) {
      await this.q.run(`UPDATE task_runs SET state = 'PENDING', reason = 'RESTARTED', error = NULL, output = NULL,
        next_attempt_at = NULL, started_at = NULL, ended_at = NULL, attempt_base = attempt, updated_at = ? WHERE execution_id = ? AND task_id = ?`,
      [now, t.executionId, r.task_id])
    }
    const by = t.by !== undefined ? { by: t.by } : {}
    this.audit(now, 'RESTARTED', t.executionId, undefined, row.workflow_id, { from: row.state, to: 'PENDING', tasks: again.map((r) => r.task_id), ...by })
    for (const r of again) this.audit(now, 'RESTARTED', t.executionId, r.task_id, undefined, { from: r.state, to: 'PENDING', attempt: r.attempt, ...by })
    return { ok: true, changed: true }
  }

  private async admitNew(id: string, workflowId: string, policy: ConcurrencyPolicy, now: number): Promise<void> {
    const counts = await this.slots.counts(workflowId, id)
    const decision = decideCreate(policy, counts)
    const rule = `concurrency limit ${policy.limit}, behavior ${policy.behavior}`
    if (decision.kind === 'run') return
    if (decision.kind === 'refuse') {
      const n = counts.holding + counts.queued
      await this.cancelHere(id, { code: ErrorCode.ConcurrencyLimit, message: `workflow ${workflowId} already runs ${n} execution${n === 1 ? '' : 's'} (${rule})` }, now)
      return
    }
    const holders = await this.slots.oldestStaying(workflowId, decision.stopHolders, id)
    const waiting = await this.slots.oldestWaiting(workflowId, decision.cancelQueued, id)
    await this.slots.queue(id, now)
    this.audit(now, 'STATE_CHANGE', id, undefined, workflowId, { from: 'PENDING', to: 'WAITING', reason: QUEUED_REASON })
    const error = { code: ErrorCode.Cancelled, message: `cancelled to make room for ${id}, a newer execution of ${workflowId} (${rule})` }
    for (const victim of waiting) await this.cancelHere(victim, error, now)
    for (const victim of holders) {
      await this.slots.requestCancel(victim, error)
      this.audit(now, 'CANCEL_REQUESTED', victim, undefined, workflowId, { by: id, error })
    }
  }

  private async cancelHere(id: string, error: ErrorInfo, now: number): Promise<void> {
    const runs = await this.q.all<{ task_id: string; state: TaskRunState }>(`SELECT task_id, state FROM task_runs WHERE execution_id = ? ${RUN_ORDER}`, [id])
    for (const t of terminateUnfinished(id, runs.map((r) => ({ taskId: r.task_id, state: r.state })), { to: 'CANCELLED', error })) await this.applyOne(t, now, undefined)
  }

  private async admit(t: AdmitExecution, now: number, owner: string | undefined): Promise<TransitionResult> {
    const row = await this.execRow(t.executionId)
    if (!row) return notFound(`execution ${t.executionId}`)
    const refused = fenced(t.executionId, owner, row.owner)
    if (refused) return refused
    if (row.state !== 'WAITING' || row.reason !== QUEUED_REASON) {
      return { ok: false, error: { code: ErrorCode.InvalidTransition, message: `execution ${t.executionId} is ${row.state}, not waiting for a slot`, details: { from: row.state } } }
    }
    const limit = (await this.slots.limitOf(t.executionId)) ?? Number.POSITIVE_INFINITY
    const { holding } = await this.slots.counts(row.workflow_id)
    const rank = (await this.slots.oldestWaiting(row.workflow_id, admissionWindow(limit, holding))).indexOf(t.executionId)
    if (!mayAdmit(limit, holding, rank)) return { ok: true, changed: false }
    return this.applyExecution({ kind: 'execution', executionId: t.executionId, to: 'RUNNING', auditData: { admitted: 'a slot of the workflow\'s concurrency freed' } }, now, owner)
  }

  private async cronFire(t: CronFireTransition, now: number): Promise<TransitionResult> {
    const recorded = await this.fires.record({ workflowId: t.workflowId, triggerIndex: t.triggerIndex, scheduledAt: t.scheduledAt, executionId: t.executionId, firedAt: now })
    if (recorded) return { ok: true, changed: true }
    return conflict(`tick ${t.scheduledAt} of ${t.workflowId}#${t.triggerIndex} was fired already (or a later one was)`,
      { duplicateFire: true, workflowId: t.workflowId, triggerIndex: t.triggerIndex, scheduledAt: t.scheduledAt })
  }

  private async claim(t: ClaimExecution, now: number, owner: string | undefined): Promise<TransitionResult> {
    if (owner === undefined) return { ok: false, error: { code: ErrorCode.InvalidInput, message: 'a claim needs the committing engine (CommitBatch.owner)' } }
    const row = await this.q.get<{ owner: string | null; workflow_id: string; lease_until: number | null }>(
      'SELECT x.owner, x.workflow_id, e.lease_until FROM executions x LEFT JOIN engines e ON e.id = x.owner WHERE x.id = ?', [t.executionId])
    if (!row) return notFound(`execution ${t.executionId}`)
    if (row.owner === owner) return { ok: true, changed: false }
    // One conditional UPDATE: under READ COMMITTED a concurrent claimer's UPDATE waits for this one and re-checks
    // the condition on the row as committed, so one claimer wins.
    const taken = (await this.q.run(`UPDATE executions SET owner = ? WHERE id = ? AND owner IS NOT DISTINCT FROM ? AND NOT ${LIVE_OWNER}`,
      [owner, t.executionId, row.owner, now])) > 0
    if (!taken) return conflict(`execution ${t.executionId} is held by a live engine (${row.owner})`, { owner: row.owner })
    this.audit(now, 'CLAIMED', t.executionId, undefined, row.workflow_id, { from: row.owner, to: owner, fromLeaseUntil: row.lease_until === null ? null : Number(row.lease_until) })
    return { ok: true, changed: true }
  }

  private async requestCancel(t: RequestCancel, now: number, owner: string | undefined): Promise<TransitionResult> {
    const row = await this.execRow(t.executionId)
    if (!row) return notFound(`execution ${t.executionId}`)
    if (row.state === 'SUCCESS' || row.state === 'FAILED' || row.state === 'CANCELLED') return { ok: true, changed: false }
    await this.slots.requestCancel(t.executionId, t.error)
    this.audit(now, 'CANCEL_REQUESTED', t.executionId, undefined, row.workflow_id,
      { from: owner ?? null, holder: row.owner, ...(t.by !== undefined ? { by: t.by } : {}), error: t.error })
    return { ok: true, changed: true }
  }

  private async requestDecision(t: RequestDecision, now: number, owner: string | undefined): Promise<TransitionResult> {
    const row = await this.execRow(t.executionId)
    if (!row) return notFound(`execution ${t.executionId}`)
    if (!(await this.q.get('SELECT 1 FROM task_runs WHERE execution_id = ? AND task_id = ?', [t.executionId, t.taskId]))) {
      return notFound(`task ${t.taskId} of execution ${t.executionId}`)
    }
    if (row.state === 'SUCCESS' || row.state === 'FAILED' || row.state === 'CANCELLED') return { ok: true, changed: false }
    if (!(await this.decisions.add({ id: t.requestId, executionId: t.executionId, taskId: t.taskId, decision: t.decision }, owner, now))) {
      return conflict(`decision request ${t.requestId} exists already`)
    }
    this.audit(now, 'DECISION_REQUESTED', t.executionId, t.taskId, row.workflow_id,
      { from: owner ?? null, holder: row.owner, request: t.requestId, verdict: t.decision.verdict, by: t.decision.by })
    return { ok: true, changed: true }
  }

  private async settleDecision(t: SettleDecision, now: number): Promise<TransitionResult> {
    return { ok: true, changed: await this.decisions.settle(t.requestId, t.outcome, now) }
  }

  private async applyExecution(t: ExecutionTransition, now: number, owner: string | undefined): Promise<TransitionResult> {
    const row = await this.execRow(t.executionId)
    if (!row) return notFound(`execution ${t.executionId}`)
    const refused = fenced(t.executionId, owner, row.owner)
    if (refused) return refused
    const check = checkExecutionTransition(row.state, t.to, { from: row.reason ?? undefined, to: t.reason })
    if (check === 'ok' && t.to === 'RUNNING' && t.cap !== undefined) {
      const running = (await this.q.get<{ n: number }>("SELECT COUNT(*)::int AS n FROM executions WHERE state = 'RUNNING'"))!.n
      if (running >= t.cap) return atCapacity(running, t.cap)
    }
    if (check === 'noop') return { ok: true, changed: false }
    if (check === 'invalid') return invalid(`execution ${t.executionId}`, row.state, t.to, t.reason)
    const terminal = t.to === 'SUCCESS' || t.to === 'FAILED' || t.to === 'CANCELLED'
    this.q.send(`UPDATE executions SET state = ?, reason = ?, error = COALESCE(?, error), outputs = COALESCE(?, outputs), updated_at = ?,
        started_at = CASE WHEN ? THEN COALESCE(started_at, ?) ELSE started_at END,
        ended_at = CASE WHEN ? THEN ? ELSE ended_at END WHERE id = ?`,
    [t.to, t.reason ?? null, toJson(t.error), toJson(t.outputs), now, t.to === 'RUNNING', now, terminal, now, t.executionId])
    this.audit(now, t.auditType ?? auditTypeForExecution(t.to), t.executionId, undefined, row.workflow_id, {
      from: row.state, to: t.to, ...(t.reason ? { reason: t.reason } : {}), ...(t.error ? { error: t.error } : {}), ...t.auditData,
    })
    return { ok: true, changed: true }
  }

  private async applyTask(t: TaskTransition, now: number, owner: string | undefined): Promise<TransitionResult> {
    const row = await this.q.get<{ state: TaskRunState; reason: string | null; attempt: number; owner: string | null; child: string | null }>(
      `SELECT t.state, t.reason, t.attempt, e.owner, t.child_execution_id AS child FROM task_runs t JOIN executions e ON e.id = t.execution_id
        WHERE t.execution_id = ? AND t.task_id = ?`, [t.executionId, t.taskId])
    if (!row) return notFound(`task run ${t.executionId}/${t.taskId}`)
    const refused = fenced(t.executionId, owner, row.owner)
    if (refused) return refused
    const check = checkTaskTransition(row.state, t.to, { from: row.reason ?? undefined, to: t.reason })
    if (check === 'noop') return { ok: true, changed: false }
    if (check === 'invalid') return invalid(`task ${t.taskId}`, row.state, t.to, t.reason)
    const attempt = t.to === 'RUNNING' ? (t.attempt ?? row.attempt + 1) : row.attempt
    const running = t.to === 'RUNNING'
    this.q.send(`UPDATE task_runs SET state = ?, reason = ?, attempt = ?, output = COALESCE(?, output),
        error = CASE WHEN ? THEN NULL ELSE COALESCE(?, error) END, next_attempt_at = ?, updated_at = ?,
        child_execution_id = COALESCE(?, child_execution_id),
        started_at = CASE WHEN ? THEN COALESCE(started_at, ?) ELSE started_at END,
        ended_at = CASE WHEN ? THEN ? ELSE ended_at END WHERE execution_id = ? AND task_id = ?`,
    [t.to, t.reason ?? null, attempt, toJson(t.output), running, toJson(t.error), t.nextAttemptAt ?? null, now, t.child ?? null,
      running, now, isTerminalTask(t.to), now, t.executionId, t.taskId])
    if (running) {
      this.q.send(`INSERT INTO task_attempts (execution_id, task_id, attempt, state, runner, started_at) VALUES (?, ?, ?, 'RUNNING', ?, ?)
          ON CONFLICT (execution_id, task_id, attempt) DO UPDATE SET state = excluded.state, runner = excluded.runner,
            started_at = excluded.started_at, error = NULL, ended_at = NULL`, [t.executionId, t.taskId, attempt, t.runner ?? null, now])
    } else if (row.state === 'RUNNING') {
      const attemptState = t.to === 'SUCCESS' || t.to === 'CANCELLED' ? t.to : 'FAILED'
      this.q.send('UPDATE task_attempts SET state = ?, error = ?, ended_at = ? WHERE execution_id = ? AND task_id = ? AND attempt = ?',
        [attemptState, toJson(t.error), now, t.executionId, t.taskId, row.attempt])
    }
    if (t.to === 'SUCCESS' && t.files) await this.files.replace(t.executionId, t.taskId, attempt, t.files, now)
    this.audit(now, t.auditType ?? auditTypeForTask(t.to), t.executionId, t.taskId, undefined, {
      from: row.state, to: t.to, attempt, ...(t.reason ? { reason: t.reason } : {}), ...(t.child ? { child: t.child } : {}),
      ...(t.error ? { error: t.error } : {}), ...t.auditData,
    })
    if (row.state === 'WAITING' && row.reason === WaitReason.Subflow && row.child) await this.stopChild(row.child, t, now)
    return { ok: true, changed: true }
  }

  private async stopChild(child: string, t: TaskTransition, now: number): Promise<void> {
    const c = await this.execRow(child)
    if (!c || c.state === 'SUCCESS' || c.state === 'FAILED' || c.state === 'CANCELLED') return
    const why = t.error ? `: ${t.error.message}` : ''
    const error = { code: ErrorCode.Cancelled, message: `cancelled with its parent ${t.executionId} (task ${t.taskId} ended ${t.to}${why})` }
    await this.slots.requestCancel(child, error)
    this.audit(now, 'CANCEL_REQUESTED', child, undefined, c.workflow_id, { by: t.executionId, taskId: t.taskId, error })
  }

  /** Audit rows are sent, not awaited (`Q.send`: store.ts waits for them before the request's savepoint ends). */
  private audit(ts: number, type: string, executionId?: string, taskId?: string, workflowId?: string, data?: unknown): void {
    this.audits.send(ts, type, {
      ...(executionId !== undefined ? { executionId } : {}), ...(taskId !== undefined ? { taskId } : {}), ...(workflowId !== undefined ? { workflowId } : {}),
    }, data)
  }
}
