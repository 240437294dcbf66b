/**
 * The SQLite checkpoint writer: applies state transitions, each with its audit event, checked against the
 * state tables. A batch commits in one transaction; each transition gets its own result.
 */

import { FileRepo } from './files.ts'
import type { Database } from 'bun:sqlite'
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
import { ConcurrencyRepo } from './concurrency.ts'
import { DecisionRequestRepo } from './decision-requests.ts'
import { CronFireRepo } from './cron-fires.ts'
import { LIVE_OWNER } from './engines.ts'
import { ExecutionRepo } from './executions.ts'
import { toJson } from './json.ts'
import { isLaterListPath } from '../../workflow/task-lists.ts'

const invalid = (what: string, from: string, to: string, reason: string | undefined): TransitionResult => ({
  ok: false,
  error: to === 'WAITING' && !isWaitReason(reason)
    ? { code: ErrorCode.InvalidTransition, message: `${what}: WAITING needs a wait reason (${Object.values(WaitReason).join(', ')}), not ${JSON.stringify(reason ?? null)}`, details: { from, to, reason } }
    : { code: ErrorCode.InvalidTransition, message: `${what}: ${from} → ${to} is not an allowed transition`, details: { from, to } },
})
const notFound = (what: string): TransitionResult => ({ ok: false, error: { code: ErrorCode.NotFound, message: `${what} not found` } })
const conflict = (message: string, details?: Record<string, unknown>): TransitionResult =>
  ({ ok: false, error: { code: ErrorCode.Conflict, message, ...(details ? { details } : {}) } })
/** The fence: a commit by `owner` touches only the executions `owner` holds. */
const fenced = (executionId: string, owner: string | undefined, holder: string | null): TransitionResult | undefined =>
  owner === undefined || holder === owner ? undefined
    : conflict(`execution ${executionId} is held by another engine (${holder ?? 'none'}); this engine (${owner}) must claim it first`, { owner: holder })

export class CheckpointWriter {
  private readonly executions: ExecutionRepo
  private readonly fires: CronFireRepo
  private readonly slots: ConcurrencyRepo
  private readonly decisions: DecisionRequestRepo
  private readonly files: FileRepo

  constructor(private readonly db: Database) {
    this.files = new FileRepo(db)
    this.executions = new ExecutionRepo(db)
    this.fires = new CronFireRepo(db)
    this.slots = new ConcurrencyRepo(db)
    this.decisions = new DecisionRequestRepo(db)
  }

  /**
   * Applies the transitions inside the caller's transaction, one result each. `owner` fences execution and
   * task transitions and owns what `create` and `claim` make (see CommitBatch.owner).
   */
  apply(batch: readonly Transition[], now: number, owner?: string): TransitionResult[] {
    return batch.map((t) => this.applyOne(t, now, owner))
  }

  private applyOne(t: Transition, now: number, owner: string | undefined): TransitionResult {
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

  /** See AddIterations: one row per missing iteration, in the parent's position. */
  private iterations(t: AddIterations, now: number, owner: string | undefined): TransitionResult {
    const row = this.db.query<{ position: number; owner: string | null }, [string, string]>(
      `SELECT t.position, e.owner FROM task_runs t JOIN executions e ON e.id = t.execution_id WHERE t.execution_id = ? AND t.task_id = ?`)
      .get(t.executionId, t.parent)
    if (!row) return notFound(`task run ${t.executionId}/${t.parent}`)
    const refused = fenced(t.executionId, owner, row.owner)
    if (refused) return refused
    const insert = this.db.query(`INSERT OR IGNORE INTO task_runs (execution_id, task_id, position, state, attempt, updated_at, kind, parent_path, iteration)
        VALUES (?, ?, ?, 'PENDING', 0, ?, ?, ?, ?)`)
    let added = 0
    for (let i = 0; i < t.count; i++) added += insert.run(t.executionId, `${t.parent}[${i}]`, row.position, now, t.taskKind, t.parent, i).changes
    return { ok: true, changed: added > 0 }
  }

  private create(t: CreateExecution, now: number, owner: string | undefined): TransitionResult {
    if (this.db.query('SELECT 1 FROM executions WHERE id = ?').get(t.executionId)) return conflict(`execution ${t.executionId} exists already`)
    this.executions.insert({
      id: t.executionId, workflow: t.workflow, revision: t.revision, inputs: t.inputs, trigger: t.trigger, now,
      ...(owner !== undefined ? { owner } : {}), ...(t.labels ? { labels: t.labels } : {}), ...(t.replay ? { replay: t.replay } : {}),
      ...(t.parent ? { parent: t.parent } : {}),
    })
    this.audit(now, 'CREATED', t.executionId, undefined, t.workflow.id, {
      trigger: t.trigger, revision: t.revision, ...(t.labels && Object.keys(t.labels).length ? { labels: t.labels } : {}),
      ...(t.replay ? { replayOf: t.replay.of, from: t.replay.from, reused: Object.keys(t.replay.reused) } : {}),
      ...(t.parent ? { parent: t.parent } : {}),
    })
    // A replay's reused runs keep the files they stored (rows of its own: the blobs stay named if the original goes).
    if (t.replay) this.files.copyRuns(t.replay.of, t.executionId, Object.keys(t.replay.reused), now)
    const policy = t.workflow.concurrency
    if (policy) this.admitNew(t.executionId, t.workflow.id, policy, now)
    return { ok: true, changed: true }
  }

  /** See RestartExecution: not fenced (nobody drives a terminal execution); the state check serialises two restarters. */
  private restart(t: RestartExecution, now: number, owner: string | undefined): TransitionResult {
    const row = this.db.query<{ state: ExecutionState; workflow_id: string }, [string]>('SELECT state, workflow_id FROM executions WHERE id = ?').get(t.executionId)
    if (!row) return notFound(`execution ${t.executionId}`)
    if (!isRestartable(row.state)) {
      return { ok: false, error: { code: ErrorCode.InvalidTransition, message: `execution ${t.executionId}: only a FAILED or CANCELLED execution can be restarted, not ${row.state}`, details: { from: row.state, to: 'PENDING' } } }
    }
    const runs = this.db.query<{ task_id: string; state: TaskRunState; attempt: number }, [string]>(
      'SELECT task_id, state, attempt FROM task_runs WHERE execution_id = ? ORDER BY position, iteration').all(t.executionId)
    // onFailure and finally runs start over too, whatever they did: they follow the main tasks, which run again.
    const again = runs.filter((r) => isRestartedTask(r.state) || isLaterListPath(r.task_id))
    this.db.query(`UPDATE executions SET state = 'PENDING', reason = 'RESTARTED', error = NULL, started_at = NULL, ended_at = NULL,
        updated_at = ?, owner = COALESCE(?, owner) WHERE id = ?`).run(now, owner ?? null, t.executionId)
    const reset = this.db.query(`UPDATE task_runs SET state = 'PENDING', reason = 'RESTARTED', error = NULL, output = NULL,
        next_attempt_at = NULL, started_at = NULL, ended_at = NULL, attempt_base = attempt, updated_at = ? WHERE execution_id = ? AND task_id = ?`)
    for (const r of again) reset.run(now, t.executionId, r.task_id)
    const by = t.by !== undefined ? { by: t.by } : {}
    this.audit(now, 'RESTARTED', t.executionId, undefined, row.workflow_id, { from: row.state, to: 'PENDING', tasks: again.map((r) => r.task_id), ...by })
    for (const r of again) this.audit(now, 'RESTARTED', t.executionId, r.task_id, undefined, { from: r.state, to: 'PENDING', attempt: r.attempt, ...by })
    return { ok: true, changed: true }
  }

  /** The concurrency rule for a new execution, over the workflow's active ones counted in this transaction. */
  private admitNew(id: string, workflowId: string, policy: ConcurrencyPolicy, now: number): void {
    const counts = this.slots.counts(workflowId, id)
    const decision = decideCreate(policy, counts)
    const rule = `concurrency limit ${policy.limit}, behavior ${policy.behavior}`
    if (decision.kind === 'run') return
    if (decision.kind === 'refuse') {
      const n = counts.holding + counts.queued
      this.cancelHere(id, { code: ErrorCode.ConcurrencyLimit, message: `workflow ${workflowId} already runs ${n} execution${n === 1 ? '' : 's'} (${rule})` }, now)
      return
    }
    // The victims are chosen before this one is queued, so it is never one of them.
    const holders = this.slots.oldestStaying(workflowId, decision.stopHolders, id)
    const waiting = this.slots.oldestWaiting(workflowId, decision.cancelQueued, id)
    this.slots.queue(id, now)
    this.audit(now, 'STATE_CHANGE', id, undefined, workflowId, { from: 'PENDING', to: 'WAITING', reason: QUEUED_REASON })
    const error = { code: ErrorCode.Cancelled, message: `cancelled to make room for ${id}, a newer execution of ${workflowId} (${rule})` }
    for (const victim of waiting) this.cancelHere(victim, error, now)
    for (const victim of holders) {
      this.slots.requestCancel(victim, error)
      this.audit(now, 'CANCEL_REQUESTED', victim, undefined, workflowId, { by: id, error })
    }
  }

  /** Cancels an execution that runs nowhere (new, or waiting for a slot): its task runs, then itself. */
  private cancelHere(id: string, error: ErrorInfo, now: number): void {
    const runs = this.db.query<{ task_id: string; state: TaskRunState }, [string]>('SELECT task_id, state FROM task_runs WHERE execution_id = ? ORDER BY position, iteration').all(id)
    for (const t of terminateUnfinished(id, runs.map((r) => ({ taskId: r.task_id, state: r.state })), { to: 'CANCELLED', error })) this.applyOne(t, now, undefined)
  }

  private admit(t: AdmitExecution, now: number, owner: string | undefined): TransitionResult {
    const row = this.db.query<{ state: ExecutionState; reason: string | null; workflow_id: string; owner: string | null }, [string]>(
      'SELECT state, reason, workflow_id, owner FROM executions WHERE id = ?').get(t.executionId)
    if (!row) return notFound(`execution ${t.executionId}`)
    const refused = fenced(t.executionId, owner, row.owner)
    if (refused) return refused
    if (row.state !== 'WAITING' || row.reason !== QUEUED_REASON) {
      return { ok: false, error: { code: ErrorCode.InvalidTransition, message: `execution ${t.executionId} is ${row.state}, not waiting for a slot`, details: { from: row.state } } }
    }
    const limit = this.slots.limitOf(t.executionId) ?? Number.POSITIVE_INFINITY
    const { holding } = this.slots.counts(row.workflow_id)
    const rank = this.slots.oldestWaiting(row.workflow_id, admissionWindow(limit, holding)).indexOf(t.executionId)
    if (!mayAdmit(limit, holding, rank)) return { ok: true, changed: false }
    return this.applyExecution({ kind: 'execution', executionId: t.executionId, to: 'RUNNING', auditData: { admitted: 'a slot of the workflow\'s concurrency freed' } }, now, owner)
  }

  private cronFire(t: CronFireTransition, now: number): TransitionResult {
    const recorded = this.fires.record({ workflowId: t.workflowId, triggerIndex: t.triggerIndex, scheduledAt: t.scheduledAt, executionId: t.executionId, firedAt: now })
    if (recorded) return { ok: true, changed: true }
    return conflict(`tick ${t.scheduledAt} of ${t.workflowId}#${t.triggerIndex} was fired already (or a later one was)`,
      { duplicateFire: true, workflowId: t.workflowId, triggerIndex: t.triggerIndex, scheduledAt: t.scheduledAt })
  }

  private claim(t: ClaimExecution, now: number, owner: string | undefined): TransitionResult {
    if (owner === undefined) return { ok: false, error: { code: ErrorCode.InvalidInput, message: 'a claim needs the committing engine (CommitBatch.owner)' } }
    const row = this.db.query<{ owner: string | null; workflow_id: string; lease_until: number | null }, [string]>(
      'SELECT x.owner, x.workflow_id, e.lease_until FROM executions x LEFT JOIN engines e ON e.id = x.owner WHERE x.id = ?').get(t.executionId)
    if (!row) return notFound(`execution ${t.executionId}`)
    if (row.owner === owner) return { ok: true, changed: false }
    // One conditional UPDATE: it holds against a concurrent claimer in any database, not only under SQLite's lock.
    const taken = this.db.query(`UPDATE executions SET owner = ? WHERE id = ? AND owner IS ? AND NOT ${LIVE_OWNER}`)
      .run(owner, t.executionId, row.owner, now).changes > 0
    if (!taken) return conflict(`execution ${t.executionId} is held by a live engine (${row.owner})`, { owner: row.owner })
    this.audit(now, 'CLAIMED', t.executionId, undefined, row.workflow_id, { from: row.owner, to: owner, fromLeaseUntil: row.lease_until })
    return { ok: true, changed: true }
  }

  private requestCancel(t: RequestCancel, now: number, owner: string | undefined): TransitionResult {
    const row = this.db.query<{ state: ExecutionState; workflow_id: string; owner: string | null }, [string]>(
      'SELECT state, workflow_id, owner FROM executions WHERE id = ?').get(t.executionId)
    if (!row) return notFound(`execution ${t.executionId}`)
    if (row.state === 'SUCCESS' || row.state === 'FAILED' || row.state === 'CANCELLED') return { ok: true, changed: false }
    this.slots.requestCancel(t.executionId, t.error)
    this.audit(now, 'CANCEL_REQUESTED', t.executionId, undefined, row.workflow_id,
      { from: owner ?? null, holder: row.owner, ...(t.by !== undefined ? { by: t.by } : {}), error: t.error })
    return { ok: true, changed: true }
  }

  private requestDecision(t: RequestDecision, now: number, owner: string | undefined): TransitionResult {
    const row = this.db.query<{ state: ExecutionState; workflow_id: string; owner: string | null }, [string]>(
      'SELECT state, workflow_id, owner FROM executions WHERE id = ?').get(t.executionId)
    if (!row) return notFound(`execution ${t.executionId}`)
    if (!this.db.query('SELECT 1 FROM task_runs WHERE execution_id = ? AND task_id = ?').get(t.executionId, t.taskId)) {
      return notFound(`task ${t.taskId} of execution ${t.executionId}`)
    }
    if (row.state === 'SUCCESS' || row.state === 'FAILED' || row.state === 'CANCELLED') return { ok: true, changed: false }
    if (!this.decisions.add({ id: t.requestId, executionId: t.executionId, taskId: t.taskId, decision: t.decision }, owner, now)) {
      return conflict(`decision request ${t.requestId} exists already`)
    }
    this.audit(now, 'DECISION_REQUESTED', t.executionId, t.taskId, row.workflow_id,
      { from: owner ?? null, holder: row.owner, request: t.requestId, verdict: t.decision.verdict, by: t.decision.by })
    return { ok: true, changed: true }
  }

  private settleDecision(t: SettleDecision, now: number): TransitionResult {
    return { ok: true, changed: this.decisions.settle(t.requestId, t.outcome, now) }
  }

  private applyExecution(t: ExecutionTransition, now: number, owner: string | undefined): TransitionResult {
    const row = this.db.query<{ state: ExecutionState; reason: string | null; workflow_id: string; owner: string | null }, [string]>(
      'SELECT state, reason, workflow_id, owner FROM executions WHERE id = ?').get(t.executionId)
    if (!row) return notFound(`execution ${t.executionId}`)
    const refused = fenced(t.executionId, owner, row.owner)
    if (refused) return refused
    const check = checkExecutionTransition(row.state, t.to, { from: row.reason ?? undefined, to: t.reason })
    if (check === 'noop') return { ok: true, changed: false }
    if (check === 'invalid') return invalid(`execution ${t.executionId}`, row.state, t.to, t.reason)
    if (t.to === 'RUNNING' && t.cap !== undefined) {
      const running = this.db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM executions WHERE state = 'RUNNING'").get()!.n
      if (running >= t.cap) return atCapacity(running, t.cap)
    }
    const terminal = t.to === 'SUCCESS' || t.to === 'FAILED' || t.to === 'CANCELLED'
    this.db.query(`UPDATE executions SET state = ?, reason = ?, error = COALESCE(?, error), outputs = COALESCE(?, outputs), updated_at = ?,
        started_at = CASE WHEN ? = 'RUNNING' THEN COALESCE(started_at, ?) ELSE started_at END,
        ended_at = CASE WHEN ? THEN ? ELSE ended_at END WHERE id = ?`)
      .run(t.to, t.reason ?? null, toJson(t.error), toJson(t.outputs), now, t.to, now, terminal ? 1 : 0, now, t.executionId)
    this.audit(now, t.auditType ?? auditTypeForExecution(t.to), t.executionId, undefined, row.workflow_id, {
      from: row.state, to: t.to, ...(t.reason ? { reason: t.reason } : {}), ...(t.error ? { error: t.error } : {}), ...t.auditData,
    })
    return { ok: true, changed: true }
  }

  private applyTask(t: TaskTransition, now: number, owner: string | undefined): TransitionResult {
    const row = this.db.query<{ state: TaskRunState; reason: string | null; attempt: number; owner: string | null; child: string | null }, [string, string]>(
      `SELECT t.state, t.reason, t.attempt, e.owner, t.child_execution_id AS child FROM task_runs t JOIN executions e ON e.id = t.execution_id
        WHERE t.execution_id = ? AND t.task_id = ?`).get(t.executionId, t.taskId)
    if (!row) return notFound(`task run ${t.executionId}/${t.taskId}`)
    const refused = fenced(t.executionId, owner, row.owner)
    if (refused) return refused
    const check = checkTaskTransition(row.state, t.to, { from: row.reason ?? undefined, to: t.reason })
    if (check === 'noop') return { ok: true, changed: false }
    if (check === 'invalid') return invalid(`task ${t.taskId}`, row.state, t.to, t.reason)
    const attempt = t.to === 'RUNNING' ? (t.attempt ?? row.attempt + 1) : row.attempt
    this.db.query(`UPDATE task_runs SET state = ?, reason = ?, attempt = ?, output = COALESCE(?, output),
        error = CASE WHEN ? = 'RUNNING' THEN NULL ELSE COALESCE(?, error) END, next_attempt_at = ?, updated_at = ?,
        child_execution_id = COALESCE(?, child_execution_id),
        started_at = CASE WHEN ? = 'RUNNING' THEN COALESCE(started_at, ?) ELSE started_at END,
        ended_at = CASE WHEN ? THEN ? ELSE ended_at END WHERE execution_id = ? AND task_id = ?`)
      .run(t.to, t.reason ?? null, attempt, toJson(t.output), t.to, toJson(t.error), t.nextAttemptAt ?? null, now, t.child ?? null,
        t.to, now, isTerminalTask(t.to) ? 1 : 0, now, t.executionId, t.taskId)
    if (t.to === 'RUNNING') {
      this.db.query(`INSERT OR REPLACE INTO task_attempts (execution_id, task_id, attempt, state, runner, started_at)
          VALUES (?, ?, ?, 'RUNNING', ?, ?)`).run(t.executionId, t.taskId, attempt, t.runner ?? null, now)
    } else if (row.state === 'RUNNING') {
      // The attempt that was running ends with this transition: a retry wait or a give-back means it failed.
      const attemptState = t.to === 'SUCCESS' || t.to === 'CANCELLED' ? t.to : 'FAILED'
      this.db.query(`UPDATE task_attempts SET state = ?, error = ?, ended_at = ?
          WHERE execution_id = ? AND task_id = ? AND attempt = ?`)
        .run(attemptState, toJson(t.error), now, t.executionId, t.taskId, row.attempt)
    }
    if (t.to === 'SUCCESS' && t.files) this.files.replace(t.executionId, t.taskId, attempt, t.files, now)
    this.audit(now, t.auditType ?? auditTypeForTask(t.to), t.executionId, t.taskId, undefined, {
      from: row.state, to: t.to, attempt, ...(t.reason ? { reason: t.reason } : {}), ...(t.child ? { child: t.child } : {}),
      ...(t.error ? { error: t.error } : {}), ...t.auditData,
    })
    if (row.state === 'WAITING' && row.reason === WaitReason.Subflow && row.child) this.stopChild(row.child, t, now)
    return { ok: true, changed: true }
  }

  /**
   * A run stopped waiting for its child while the child still runs (the parent was cancelled or timed out, or the
   * subflow task's own timeout passed): the child is asked to stop, in this same commit, and the engine that holds it
   * cancels it (its processes killed) as it does for cancel-oldest. A child that ended already is left alone.
   */
  private stopChild(child: string, t: TaskTransition, now: number): void {
    const c = this.db.query<{ state: ExecutionState; workflow_id: string }, [string]>('SELECT state, workflow_id FROM executions WHERE id = ?').get(child)
    if (!c || c.state === 'SUCCESS' || c.state === 'FAILED' || c.state === 'CANCELLED') return
    const why = t.error ? `: ${t.error.message}` : ''
    const error = { code: ErrorCode.Cancelled, message: `cancelled with its parent ${t.executionId} (task ${t.taskId} ended ${t.to}${why})` }
    this.slots.requestCancel(child, error)
    this.audit(now, 'CANCEL_REQUESTED', child, undefined, c.workflow_id, { by: t.executionId, taskId: t.taskId, error })
  }

  private audit(ts: number, type: string, executionId?: string, taskId?: string, workflowId?: string, data?: unknown): void {
    this.db.query('INSERT INTO audit_events (ts, type, execution_id, task_id, workflow_id, data) VALUES (?, ?, ?, ?, ?, ?)')
      .run(ts, type, executionId ?? null, taskId ?? null, workflowId ?? null, toJson(data))
  }
}
