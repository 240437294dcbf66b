/** Records the store reads and writes: plain data, safe to clone across threads and to serialise. */

import type { ErrorInfo } from '../errors.ts'
import type { AuditType, ExecutionState, TaskRunState } from '../state/states.ts'
import type { TriggerTypeName } from '../triggers/registry.ts'
import type { PermissionSet, Workflow } from '../workflow/model.ts'
import type { WebhookKeyRecord } from './webhook-keys.ts'

/** What started an execution: a person (`manual`), an API call, a parent's subflow task, or one of the registered trigger types. */
export type TriggerType = 'manual' | 'api' | 'subflow' | TriggerTypeName

export interface TriggerInfo {
  type: TriggerType
  /** Cron: `{ triggerIndex, cron }`; webhook: `{ remote? }`. */
  data?: Record<string, unknown>
  scheduledAt?: number
}

export interface WorkflowRecord {
  id: string
  source: string
  workflow: Workflow
  enabled: boolean
  revision: number
  /** The webhook key's digest and hint (never the key: see webhook-keys.ts); present once minted. */
  webhookKey?: WebhookKeyRecord
  createdAt: number
  updatedAt: number
}

/** One revision a workflow had: its number, when it was applied, and its YAML's size in UTF-8 bytes. */
export interface WorkflowRevisionMeta {
  revision: number
  createdAt: number
  bytes: number
}

/** A revision with the YAML it was applied from. */
export interface WorkflowRevision extends WorkflowRevisionMeta {
  source: string
}

export interface ExecutionRecord {
  id: string
  workflowId: string
  revision: number
  state: ExecutionState
  reason?: string
  trigger: TriggerInfo
  inputs: Record<string, unknown>
  /** The workflow's labels with those given at start merged over them (absent: none). */
  labels?: Record<string, string>
  /** The workflow's `outputs:`, rendered when the execution succeeded. */
  outputs?: Record<string, unknown>
  error?: ErrorInfo
  /** A replay: the execution it replays and the task it ran again from (the tasks upstream of it reused their outputs). */
  replayOf?: { executionId: string; fromTask: string }
  /** A subflow's child: the execution and the run (path) that started it, and how deep it is (1 under a top-level one). */
  parent?: ParentLink
  createdAt: number
  startedAt?: number
  endedAt?: number
  updatedAt: number
}

/** Where a child execution (a subflow's) comes from. */
export interface ParentLink {
  executionId: string
  /** The parent's run path. */
  taskId: string
  /** 1 for a child of a top-level execution, 2 for a grandchild… (bounded by `limits.maxSubflowDepth`). */
  depth: number
}

/** How a child execution ended, as its parent's subflow run needs it. */
export interface ChildEnd {
  executionId: string
  state: ExecutionState
  outputs?: Record<string, unknown>
  error?: ErrorInfo
}

export interface TaskAttemptRecord {
  attempt: number
  state: TaskRunState
  runner?: string
  error?: ErrorInfo
  startedAt: number
  endedAt?: number
}

export interface TaskRunRecord {
  executionId: string
  /**
   * The run's path (runtime/workflow/run-path.ts): a top-level task's id, an iteration `each[3]`, a nested
   * task `sub/child`. Named `taskId` where it is shown (API, CLI, logs, audit, events).
   */
  taskId: string
  /** The run this one belongs to (`each` for `each[3]`); absent for a top-level task's run. */
  parentPath?: string
  /** The task's kind (TASK_KINDS). */
  kind: string
  /** The iteration index, for a run that is one. */
  iteration?: number
  /** Declaration index of the top-level task the run belongs to. */
  position: number
  state: TaskRunState
  reason?: string
  attempt: number
  /** The attempt the last restart of the execution began after (attempts past it count against `retry.max`); absent before any. */
  attemptBase?: number
  output?: unknown
  error?: ErrorInfo
  /** A retry's due time, or an awaiting run's wake-up time (a `wait`'s, an approval's deadline). */
  nextAttemptAt?: number
  /** A subflow run's child execution (its latest attempt's). */
  childExecutionId?: string
  /** The files its successful attempt stored (`outputFiles:`, docs/files.md), by name; absent when none. */
  files?: StoredFile[]
  startedAt?: number
  endedAt?: number
  updatedAt: number
  attempts: TaskAttemptRecord[]
}

/** An execution with its workflow snapshot and every task run: what the engine resumes from. */
export interface ExecutionSnapshot {
  execution: ExecutionRecord
  workflow: Workflow
  taskRuns: TaskRunRecord[]
  /**
   * The children that ended, of the runs that wait for one (WAITING, SUBFLOW), by run path: filled in by the engine
   * when it hands the execution to a worker (actors/supervisor/subflows.ts), so a resumed parent learns of them.
   */
  childEnds?: Record<string, ChildEnd>
}

export interface LogRecord {
  id: number
  executionId: string
  taskId?: string
  attempt?: number
  ts: number
  level: string
  source: string
  message: string
}

export type NewLogLine = Omit<LogRecord, 'id'>

export interface AuditRecord {
  id: number
  ts: number
  type: AuditType | string
  executionId?: string
  taskId?: string
  workflowId?: string
  data?: unknown
}

export interface Page<T> {
  items: T[]
  total: number
  limit: number
  offset: number
}

export interface ListExecutionsQuery {
  workflowId?: string
  states?: ExecutionState[]
  /** Only executions carrying every one of these labels (key and value equal). */
  labels?: Record<string, string>
  /** Only executions created at or after this time (ms since epoch). */
  since?: number
  /** Only executions created before this time (ms since epoch). */
  until?: number
  limit?: number
  offset?: number
}

export interface ListLogsQuery {
  executionId: string
  taskId?: string
  levels?: string[]
  /** Only lines at or after this time (ms since epoch). */
  since?: number
  /** Only lines with an id greater than this (for following a stream). */
  afterId?: number
  /**
   * Only lines with an id smaller than this: the page older than the oldest line a reader holds. Unlike an offset it
   * stays put while lines are added, and reads one index range however deep the page is.
   */
  beforeId?: number
  limit?: number
  offset?: number
  order?: 'desc' | 'asc'
}

export interface LogPage {
  items: LogRecord[]
  limit: number
  offset: number
  hasMore: boolean
}

/** A non-terminal execution with the engine that holds it: what recovery looks at. */
export type ActiveExecution = ExecutionRecord & { owner?: string }

/** What was recorded for one plugin. */
export interface PluginGrantRecord {
  plugin: string
  version: string
  grant: PermissionSet
  dir: string
  seenAt: number
}

/** An encrypted value as the store keeps it (AES-256-GCM; the engine encrypts and decrypts, never the store). */
export interface SealedValue {
  ciphertext: Uint8Array
  iv: Uint8Array
  tag: Uint8Array
}

/** What may be shown about a secret: never its value. */
export interface SecretMeta {
  name: string
  version: number
  createdAt: number
  updatedAt: number
}

/** One fired cron tick, written in the transaction that creates its execution. */
export interface CronFire {
  workflowId: string
  triggerIndex: number
  scheduledAt: number
  executionId: string
  firedAt: number
}

/**
 * An engine process sharing the store: its lease on the executions it owns lasts until `leaseUntil`, and is
 * renewed by its heartbeat. Issue 19's node registry is this table.
 */
export interface EngineRecord {
  /** The lease owner id (`host/pid/process-start/n/nonce`, unique per engine; the pid in it is only information). */
  id: string
  host: string
  pid: number
  startedAt: number
  heartbeatAt: number
  leaseUntil: number
  /** The autokestra version the engine runs (package.json); absent for a row an older engine wrote. */
  version?: string
}

/**
 * What a store can prove about an engine's process (EngineRepository.liveness): `alive` and `gone` are proofs that
 * hold in any pid namespace; `unknown` (no proof either way) counts as alive, and only the lease's expiry ends it.
 */
export type EngineLiveness = 'alive' | 'gone' | 'unknown'

/** A file a task run stored (`outputFiles:`): the blob (runtime/files/) holds its bytes, this names them. */
export interface StoredFile {
  /** Its path relative to the attempt's working dir (`rows.csv`, `out/a.csv`). */
  name: string
  sha256: string
  size: number
}

/** A stored file with where it came from: what `Store.files` lists and downloads name. */
export interface FileRecord extends StoredFile {
  executionId: string
  /** The run's path. */
  taskId: string
  attempt: number
  createdAt: number
}

/** What one purge batch removed (ExecutionRepository.purge). */
export interface PurgeBatch {
  /** The executions deleted, with their runs, attempts, labels, logs, audit events and file rows. */
  executions: string[]
  /** Blobs that no file row names any more: the caller deletes them from the blob store. */
  unreferenced: string[]
}

/**
 * A person's decision on an awaiting run. `by` names who decided (the API key's name, or `local` for the
 * embedded CLI), never a key.
 */
export type Decision =
  | { verdict: 'approve'; inputs: Record<string, unknown>; by: string }
  | { verdict: 'reject'; reason: string; by: string }

/** A decision one engine asked another to take (the holder of the execution: docs/scale-out.md), not settled yet. */
export interface DecisionRequest {
  id: string
  executionId: string
  taskId: string
  /** Undefined when the stored decision is not one (another engine wrote it): the holder refuses that request. */
  decision: Decision | undefined
}

/** What became of a decision request: taken by the holder's engine, or refused with why. */
export type DecisionOutcome = { taken: true } | { taken: false; error: ErrorInfo }
