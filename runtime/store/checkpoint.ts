/**
 * What a checkpoint commits: state transitions, each checked against the state tables and written with its
 * audit event, and the result each one gets. Plain data; every backend applies them (see store.ts).
 */

import type { ErrorInfo } from '../errors.ts'
import type { AuditType, ExecutionState, TaskRunState, WaitReason } from '../state/states.ts'
import type { Workflow } from '../workflow/model.ts'
import type { Decision, DecisionOutcome, LogRecord, NewLogLine, ParentLink, StoredFile, TriggerInfo } from './types.ts'

/** Entering WAITING names why (the state machine refuses a WAITING without a known reason); other states may say why too. */
export type StateReason<S extends string> =
  | { to: Extract<S, 'WAITING'>; reason: WaitReason }
  | { to: Exclude<S, 'WAITING'>; reason?: string }

export type ExecutionTransition = ExecutionTransitionFields & StateReason<ExecutionState>

interface ExecutionTransitionFields {
  kind: 'execution'
  executionId: string
  error?: ErrorInfo
  /** The workflow's outputs, rendered (with SUCCESS only). */
  outputs?: Record<string, unknown>
  /** Overrides the audit type derived from the target state (e.g. TIMEOUT). */
  auditType?: AuditType
  auditData?: Record<string, unknown>
  /**
   * With `to: 'RUNNING'` from another state: refused AT_CAPACITY (nothing written) when `cap` executions of the store
   * are RUNNING already, whichever engine runs them (`cluster.maxConcurrentWorkflows`). Counted in the commit, which
   * every backend serialises, so the cap holds across engines.
   */
  cap?: number
}

export type TaskTransition = TaskTransitionFields & StateReason<TaskRunState>

interface TaskTransitionFields {
  kind: 'task'
  executionId: string
  /** The run's path (runtime/workflow/run-path.ts): a top-level task's id, `each[3]`, `sub/child`. */
  taskId: string
  /** The attempt this transition concerns (required when entering RUNNING). */
  attempt?: number
  output?: unknown
  error?: ErrorInfo
  nextAttemptAt?: number
  runner?: string
  /** The child execution a subflow run starts waiting for (with WAITING, SUBFLOW): recorded on the run. */
  child?: string
  /**
   * With SUCCESS: the files the attempt stored (their blobs are in the blob store already). Recorded in this
   * transition's commit, replacing any the run had (a restarted run's earlier success), or not at all.
   */
  files?: readonly StoredFile[]
  auditType?: AuditType
  auditData?: Record<string, unknown>
}

export interface AuditOnly {
  kind: 'audit'
  type: AuditType
  executionId?: string
  taskId?: string
  workflowId?: string
  data?: Record<string, unknown>
}

/**
 * Creates a PENDING execution with one PENDING task run per task of every list (task-lists.ts), owned by the
 * committing engine, and its CREATED audit event. CONFLICT when the id exists. A workflow with `concurrency` is
 * admitted by the rule (runtime/state/concurrency.ts decideCreate) over its active executions, counted in this
 * transaction: it starts WAITING (WORKFLOW_CONCURRENCY) instead when no slot is free (queue, cancel-oldest), or
 * CANCELLED with CONCURRENCY_LIMIT (cancel-new); cancel-oldest also cancels the oldest waiting ones it must and
 * records a cancel request on the oldest holders (ExecutionRepository.cancelRequests), for their engine to act on.
 */
export interface CreateExecution {
  kind: 'create'
  executionId: string
  workflow: Workflow
  revision: number
  inputs: Record<string, unknown>
  trigger: TriggerInfo
  /** Stored with the execution and indexed for `ListExecutionsQuery.labels`; checked by the caller (labels.ts). */
  labels?: Record<string, string>
  /**
   * A replay of another execution: the runs named in `reused` are created SUCCESS (reason REUSED) with the
   * output recorded there instead of PENDING, and the execution links to the original (`replayOf`).
   */
  replay?: { of: string; from: string; reused: Readonly<Record<string, unknown>> }
  /** A subflow's child: linked to the run that starts it, which commits its WAITING (SUBFLOW) in the same request. */
  parent?: ParentLink
}

/**
 * Restarts an execution that ended FAILED or CANCELLED — the one way out of a terminal state (isRestartable in
 * runtime/state/states.ts); ordinary transitions never leave one. The execution becomes PENDING again, owned by
 * the committing engine, its error, reason, start and end cleared. Every run that did not succeed becomes PENDING
 * (reason RESTARTED; error, output and wake-up time cleared), and so does every run of the onFailure and finally
 * lists whatever its state (they follow the main tasks, which run again), keeping its attempt count, which becomes its
 * `attemptBase`: new attempts number on from there and get the task's whole retry budget. SUCCESS runs keep their
 * outputs. Audited RESTARTED once for the execution (`data.tasks`: the runs given back, `by`) and once per run.
 * INVALID_TRANSITION from any other state (a second restart of the same execution included).
 */
export interface RestartExecution {
  kind: 'restart'
  executionId: string
  /** Who asked (an API key's name), for the audit event. */
  by?: string
}

/**
 * Adds the iteration runs of a forEach task (docs/engine.md#foreach): `<parent>[0]` … `<parent>[count - 1]`, PENDING at
 * attempt 0, in the parent's position (ordered by iteration after it), with `parentPath`, `iteration` and `kind`. Fenced
 * by the owner like a state change. Runs that exist already are left as they are: re-applying it is a no-op
 * (`changed: false`), so a resumed execution never doubles or resets an iteration. NOT_FOUND without the parent run.
 */
export interface AddIterations {
  kind: 'iterations'
  executionId: string
  /** The forEach task's run path. */
  parent: string
  count: number
  /** The task's kind (task_runs.kind). */
  taskKind: string
}

/**
 * Records a fired cron tick (the `cron_fires` ledger), in the request that creates its execution. CONFLICT
 * (`details.duplicateFire`) when this tick, or a later one of the same trigger, is recorded already: that is
 * the unique key that makes a tick fire once across engines, so two creators of one tick never both win.
 */
export interface CronFireTransition {
  kind: 'cronFire'
  workflowId: string
  triggerIndex: number
  scheduledAt: number
  executionId: string
}

/**
 * Lets an execution waiting for a slot of its workflow's `concurrency` (WAITING, WORKFLOW_CONCURRENCY) start:
 * RUNNING (`changed: true`) when a slot is free and it is among as many of its workflow's oldest waiting ones as there
 * are free slots (so the order in which two nodes' admits commit does not matter), counted in the
 * commit's transaction (runtime/state/concurrency.ts mayAdmit); otherwise it keeps waiting (`changed: false`).
 * INVALID_TRANSITION when it is not waiting for a slot; fenced by the owner like a state change.
 */
export interface AdmitExecution {
  kind: 'admit'
  executionId: string
}

/**
 * Takes over an execution for the committing engine: granted when it has no owner, is already the
 * committer's, or its owner's lease is gone or expired (see EngineRepository). CONFLICT while another engine's
 * lease is live. `changed` says whether the owner changed.
 */
export interface ClaimExecution {
  kind: 'claim'
  executionId: string
}

/**
 * Asks the engine that holds an execution to cancel it: a cancel that reached another node than the one running it
 * (docs/scale-out.md). Records the request on the execution (the first request's error wins) with a CANCEL_REQUESTED
 * audit event naming the asking engine and `by`; the holder's slot watcher reads it (ExecutionRepository.cancelRequests)
 * and cancels, as for cancel-oldest. Not fenced: any engine may ask. A terminal execution is left alone (`changed:
 * false`); NOT_FOUND when there is none.
 */
export interface RequestCancel {
  kind: 'requestCancel'
  executionId: string
  error: ErrorInfo
  /** Who asked (an API key's name), for the audit trail. */
  by?: string
}

/**
 * Asks the engine that holds an execution to take a decision on one of its awaiting runs (an approval reached a node
 * that does not run it: docs/scale-out.md). Stored as request `requestId` (DecisionRequest, a DECISION_REQUESTED audit
 * event naming the asking engine and the holder); the holder reads it (ExecutionRepository.decisionRequests), takes
 * the decision as its own and settles the request. Not fenced: any engine may ask. NOT_FOUND when there is no such
 * execution or run; a terminal execution is left alone (`changed: false`); a request id used before is CONFLICT.
 */
export interface RequestDecision {
  kind: 'requestDecision'
  requestId: string
  executionId: string
  taskId: string
  decision: Decision
}

/** The holder's answer to a decision request (RequestDecision): the first answer stays (`changed: false` after it). */
export interface SettleDecision {
  kind: 'settleDecision'
  requestId: string
  outcome: DecisionOutcome
}

export type Transition = ExecutionTransition | TaskTransition | AuditOnly | CreateExecution | CronFireTransition | ClaimExecution |
  AdmitExecution | RestartExecution | AddIterations | RequestCancel | RequestDecision | SettleDecision

export type TransitionResult = { ok: true; changed: boolean } | { ok: false; error: ErrorInfo }

/** A start refused by its `cap` (ExecutionTransition.cap), on every backend. */
export const atCapacity = (running: number, cap: number): TransitionResult => ({
  ok: false,
  error: { code: 'AT_CAPACITY', message: `${running} executions are running, the cluster's maxConcurrentWorkflows is ${cap}`, details: { running, cap }, retryable: true },
})

/**
 * One caller's transitions, committed in the batch's transaction but isolated from its neighbours: a request
 * that fails rolls back alone. `atomic`: all or nothing — when one transition is refused, none of the request's
 * writes stay and every result carries that refusal (a creation with its cron fire). Otherwise each transition
 * stands alone: a refused one (INVALID_TRANSITION…) leaves the others applied, as a checkpoint needs.
 */
export interface CommitRequest {
  transitions: readonly Transition[]
  atomic?: boolean
}

/** Everything one commit writes: one transaction, whatever the backend. */
export interface CommitBatch {
  requests: readonly CommitRequest[]
  /** Log lines appended in the same transaction (they get their ids here). */
  logs?: readonly NewLogLine[]
  /**
   * Made durable before the promise resolves (fsync on SQLite): for writes a caller is told are done (an
   * execution created, a cancel). Other commits survive a process crash but may be lost to a power cut.
   */
  durable?: boolean
  /** The commit's time (state and audit timestamps). */
  at: number
  /**
   * The committing engine's lease owner id. Given, execution and task transitions apply only to executions
   * this owner holds (CONFLICT otherwise: another engine took it over), and creations and claims are made
   * for it. Absent: administrative writes (tools, tests), which are not fenced.
   */
  owner?: string
}

/** What a commit answers: one result list per request (in order), and the appended lines with their ids. */
export interface CommitOutcome {
  results: TransitionResult[][]
  logs: LogRecord[]
}

/** Whether `error` (an ErrorInfo or an AppError) is the refusal a CronFireTransition gets for a tick recorded already. */
export function isDuplicateFire(error: unknown): boolean {
  const e = error as { code?: unknown; details?: { duplicateFire?: unknown } } | null | undefined
  return e?.code === 'CONFLICT' && e.details?.duplicateFire === true
}
