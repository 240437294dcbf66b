/**
 * The storage seam: what every backend implements (SQLite today, runtime/store/sqlite/; PostgreSQL next,
 * issue 19). Types only, no I/O. Asynchronous everywhere so that a networked database fits; every write the
 * engine makes goes through `commit`, one transaction per batch, each request isolated from its neighbours.
 * A backend's faults (disk full, connection lost…) reach callers as STORAGE_UNAVAILABLE (unavailable.ts) and
 * feed `health`; `runtime/store/contract.ts` is the behaviour every backend must show.
 */

import type { ErrorInfo } from '../errors.ts'
import type { AuditType } from '../state/states.ts'
import type { Workflow } from '../workflow/model.ts'
import type { CommitBatch, CommitOutcome } from './checkpoint.ts'
import type { WriteHealth } from './health.ts'
import type {
  ActiveExecution, AuditRecord, CronFire, DecisionOutcome, DecisionRequest, EngineLiveness, EngineRecord, ExecutionRecord, ExecutionSnapshot, FileRecord, ListExecutionsQuery,
  ListLogsQuery, LogPage, Page, PurgeBatch, PluginGrantRecord, SealedValue, SecretMeta, TaskRunRecord, WorkflowRecord, WorkflowRevision, WorkflowRevisionMeta,
} from './types.ts'
import type { WebhookKeyRecord } from './webhook-keys.ts'

export interface WorkflowRepository {
  get(id: string): Promise<WorkflowRecord | undefined>
  list(opts?: { limit?: number; offset?: number; enabled?: boolean }): Promise<{ items: WorkflowRecord[]; total: number }>
  /**
   * Inserts or replaces a workflow, durably. The revision increments only when the source changes; the enabled
   * flag follows the YAML on every apply; `webhookKey` is stored only if the workflow has none yet (`keyMinted`).
   * A change is audited (WORKFLOW_APPLIED) in the same transaction.
   */
  upsert(w: Workflow, source: string, now: number, webhookKey?: WebhookKeyRecord): Promise<{
    record: WorkflowRecord; created: boolean; changed: boolean; keyMinted: boolean
  }>
  /**
   * The revisions kept of a workflow, newest first (the newest `KEPT_REVISIONS`, runtime/store/revisions.ts), without
   * their sources; undefined when there is no such workflow.
   */
  revisions(id: string): Promise<WorkflowRevisionMeta[] | undefined>
  /** One kept revision with its YAML; undefined when the workflow or that revision is not there (or no longer kept). */
  revision(id: string, revision: number): Promise<WorkflowRevision | undefined>
  /** Durable; undefined when there is no such workflow. */
  setEnabled(id: string, enabled: boolean, now: number): Promise<WorkflowRecord | undefined>
  /** Replaces the webhook key's digest, audited (WEBHOOK_KEY_ROTATED, hints only); undefined when there is no such workflow. */
  rotateWebhookKey(id: string, key: WebhookKeyRecord, now: number): Promise<{ previous?: WebhookKeyRecord } | undefined>
  /** Durable, audited (WORKFLOW_DELETED); false when there was none. Its executions stay. */
  delete(id: string, now: number): Promise<boolean>
}

export interface ExecutionRepository {
  get(id: string): Promise<ExecutionRecord | undefined>
  /** The execution, its workflow snapshot and its task runs in declaration order. */
  snapshot(id: string): Promise<ExecutionSnapshot | undefined>
  taskRuns(executionId: string): Promise<TaskRunRecord[]>
  taskRun(executionId: string, taskId: string): Promise<TaskRunRecord | undefined>
  /** Newest first (created, then id), with the total for the filters. */
  list(q?: ListExecutionsQuery): Promise<Page<ExecutionRecord>>
  /** Non-terminal executions, oldest first, with the engine that holds each: what recovery may resume. */
  listActive(): Promise<ActiveExecution[]>
  countByState(): Promise<Record<string, number>>
  /**
   * The non-terminal executions `owner` holds that a newer execution asked to stop (`concurrency: { behavior:
   * cancel-oldest }`), oldest first, each with the error to cancel it with: its engine cancels them.
   */
  cancelRequests(owner: string): Promise<{ id: string; error: ErrorInfo }[]>
  /**
   * A workflow's `n` oldest executions waiting for a slot of its concurrency, whichever engine holds them, in the
   * order the store admits them (`admit`): what an engine asks to admit is its own among these (slot-watcher.ts).
   */
  waitingOrder(workflowId: string, n: number): Promise<string[]>
  /**
   * The unsettled decision requests (RequestDecision) on non-terminal executions `owner` holds, oldest first: its
   * engine takes each decision and settles the request (actors/supervisor/remote-decisions.ts).
   */
  decisionRequests(owner: string): Promise<DecisionRequest[]>
  /** What became of decision request `id`: undefined while it is unsettled (or unknown). */
  decisionOutcome(id: string): Promise<DecisionOutcome | undefined>
  /**
   * The runs of executions `owner` holds that wait for a child execution (WAITING, SUBFLOW) whose child has ended:
   * the engine tells each parent (actors/supervisor/subflows.ts).
   */
  endedChildren(owner: string): Promise<{ executionId: string; taskId: string; childId: string }[]>
  /**
   * Deletes up to `limit` terminal executions that ended before `before` (oldest first), each with its task runs,
   * attempts, labels, logs, audit events and file rows, in one short transaction (a caller purges in batches, so
   * the engine's commits wait for one batch at most). A subflow child goes with its parent only when it is itself
   * terminal and old enough. Durable. Returns what went and the blobs no file row names any more.
   */
  purge(before: number, limit: number): Promise<PurgeBatch>
  /**
   * Where engines on several hosts share the store (PostgreSQL): takes for `owner`, in one transaction, up to `limit`
   * executions other live engines hold but have not started (PENDING), unchanged since `queuedBefore` (created or
   * last claimed then), oldest created first, and
   * returns them (id and workflow); each is audited CLAIMED_QUEUED, and announced to the other engines (StoreWakeup
   * `claimed`). Serialised with commits: a creator's RUNNING commit of one of
   * them either came first (it is not taken) or is refused CONFLICT (fenced). Executions of inline workflows
   * (revision 0) are not taken. Absent where engines share one host's file (SQLite): work stays where it was made.
   */
  claimQueued?(owner: string, opts: { limit: number; queuedBefore: number; now: number }): Promise<{ id: string; workflowId: string }[]>
}

/** Metadata of the files task runs stored (`outputFiles:`); the rows are written by a task's SUCCESS transition. */
export interface FileRepository {
  /** The execution's files, by task run then name. */
  list(executionId: string): Promise<FileRecord[]>
  get(executionId: string, taskId: string, name: string): Promise<FileRecord | undefined>
  /** Of `sha256s`, those some file row still names (what a blob garbage collection must keep). */
  referenced(sha256s: readonly string[]): Promise<Set<string>>
}

export interface LogRepository {
  /** A page, newest first unless `order: 'asc'`, filtered by task, levels, time and id. */
  list(q: ListLogsQuery): Promise<LogPage>
  count(executionId?: string): Promise<number>
}

export interface AuditRepository {
  forExecution(executionId: string): Promise<AuditRecord[]>
  /** Newest first. */
  list(opts?: { type?: string; workflowId?: string; limit?: number }): Promise<AuditRecord[]>
  /** An event outside any state transition (a secret revealed…). */
  record(ts: number, type: AuditType | string, ids: { executionId?: string; taskId?: string; workflowId?: string }, data?: unknown): Promise<void>
}

/** Encrypted secrets: the store sees names, sealed bytes and versions, never a value. */
export interface SecretRepository {
  /** Creates (version 1) or replaces (version + 1) a sealed value. */
  put(name: string, sealed: SealedValue, now: number): Promise<SecretMeta>
  sealed(name: string): Promise<SealedValue | undefined>
  /** Several at once, from one consistent read; missing names are absent from the map. */
  sealedMany(names: readonly string[]): Promise<Map<string, SealedValue>>
  meta(name: string): Promise<SecretMeta | undefined>
  /** Every secret's metadata, by name. */
  list(): Promise<SecretMeta[]>
  delete(name: string): Promise<boolean>
}

/** The cron ledger; a fire itself is recorded by a `cronFire` transition, in the commit that creates its execution. */
export interface CronFireRepository {
  /** The newest fired tick of a trigger. */
  last(workflowId: string, triggerIndex: number): Promise<number | undefined>
  /** Every fired tick of a workflow, oldest first. */
  list(workflowId: string): Promise<CronFire[]>
  /** Deletes ticks scheduled before `before`, always keeping each trigger's newest; returns how many went. */
  prune(before: number): Promise<number>
}

/** One plugin grant as loaded now. */
export interface PluginGrantEntry extends Omit<PluginGrantRecord, 'seenAt'> {}

export interface PluginGrantRepository {
  get(plugin: string): Promise<PluginGrantRecord | undefined>
  list(): Promise<PluginGrantRecord[]>
  /** Records every grant seen now (normalised) and the audit events about them, in one transaction. */
  record(entries: readonly PluginGrantEntry[], now: number, audits?: readonly { type: AuditType | string; data: unknown }[]): Promise<void>
}

/**
 * Engine leases. An engine registers itself, renews its lease with one heartbeat (however many executions it
 * holds), and gives it up when it stops. An execution belongs to the engine named in its `owner`; a `claim`
 * transition takes it over only once that engine's lease is gone or expired, so two live engines never drive
 * one execution, and a commit is fenced by its owner (CommitBatch.owner). A lease ends early only when the store
 * proves its engine dead (`liveness`): never from a pid, which another pid namespace hides or a new process reuses.
 */
export interface EngineRepository {
  /**
   * Registers (or re-registers) an engine with a lease until `leaseUntil`, and holds the proof that it lives for as
   * long as this handle stays open and its process lives, until `release` (SQLite: a flock beside the database).
   * Only the engine itself registers its id.
   */
  register(e: Omit<EngineRecord, 'heartbeatAt'>, now: number): Promise<void>
  /** Extends the lease; false when the engine's row is gone (another engine declared it dead): register again. */
  renew(id: string, now: number, leaseUntil: number): Promise<boolean>
  list(): Promise<EngineRecord[]>
  /**
   * Whether engine `id` provably lives (`alive`: its proof is held, by any process sharing this store), provably died
   * (`gone`: its proof was dropped, which only its release, its handle's close or its process's death does), or
   * cannot be told (`unknown`: it held no proof, e.g. an older engine or one on another host). Only `gone` may end
   * another engine's lease before it expires.
   */
  liveness(id: string): Promise<EngineLiveness>
  /**
   * Whether a proof can lapse while its engine lives: true where it is a database session's (PostgreSQL: a lost
   * connection drops it until the engine's next heartbeat takes it again), false where it is the process's own
   * (SQLite: a flock). Where it can, a `gone` is believed only once it held across a heartbeat (lease.ts).
   */
  readonly proofMayLapse: boolean
  /** Ends a lease now (shutdown, or an engine found dead) and drops its proof: its executions can be claimed at once. */
  release(id: string): Promise<void>
}

export interface Store {
  /** The backend's name, as `storage.type` spells it (shown by `/health`). */
  readonly backend: 'sqlite' | 'postgresql'
  readonly workflows: WorkflowRepository
  readonly executions: ExecutionRepository
  readonly logs: LogRepository
  readonly audit: AuditRepository
  readonly secrets: SecretRepository
  readonly cronFires: CronFireRepository
  readonly pluginGrants: PluginGrantRepository
  readonly engines: EngineRepository
  readonly files: FileRepository
  /** Whether writes work, as seen by the writes themselves (in memory: no I/O to ask). */
  readonly health: WriteHealth
  /**
   * Applies a batch in one transaction; resolves with each request's results once committed (durably when
   * asked). Rejects with STORAGE_UNAVAILABLE when the store cannot be written, and then nothing was written.
   */
  commit(batch: CommitBatch): Promise<CommitOutcome>
  /** Resolves when the store answers a read; rejects otherwise. */
  ping(): Promise<void>
  /**
   * While writes fail, rewrites one probe row (at most once a second) so that health turns back to `ok` when the
   * store is writable again even if nothing else writes; resolves with whether it is writable.
   */
  probeWrite(now: number): Promise<boolean>
  /**
   * Where several engines on other hosts share the store (PostgreSQL: LISTEN/NOTIFY), what other engines' commits
   * changed that this one may be waiting for, as it happens: a wake-up, never the only way to learn it (every
   * watcher and waiter still polls the store). Resolves with a function that stops listening. Absent where there
   * is nothing to listen to (SQLite: the engines sharing a file poll it).
   */
  listen?(onWake: (w: StoreWakeup) => void): Promise<() => Promise<void>>
  close(): Promise<void>
}

/** One commit's wake-ups for other engines (Store.listen). */
export interface StoreWakeup {
  /** Executions another engine was asked something about (a cancel, a decision): their holder looks now. */
  asked: string[]
  /** Executions that ended: engines waiting for them elsewhere read them now. */
  ended: string[]
  /** The batch created executions: an engine with free slots may look for queued work (claimQueued) soon. */
  created: boolean
  /** Executions engine `by` took from other engines' queues (claimQueued): the engine they came from lets them go. */
  claimed: { id: string; by: string }[]
}

export type * from './checkpoint.ts'
export type * from './types.ts'
export type { WriteStatus, WriteHealthEvent } from './health.ts'
export type { WebhookKeyRecord } from './webhook-keys.ts'
