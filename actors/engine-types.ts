/** The engine's public face: what the server, the scheduler and `workflow run` use. */

import type { Clock } from '../runtime/clock.ts'
import type { Config } from '../runtime/config/index.ts'
import type { ExecutionState, TaskRunState } from '../runtime/state/states.ts'
import type { Store } from '../runtime/store/store.ts'
import type { ExecutionRecord, ExecutionSnapshot, LogRecord, TaskRunRecord, TriggerInfo } from '../runtime/store/types.ts'
import type { Decision } from './execution/protocol.ts'
import type { Workflow } from '../runtime/workflow/model.ts'
import type { RunnerRegistry } from '../sandbox/runners.ts'
import type { EnginePlugins } from './plugins.ts'

export interface SecretSource {
  /** Values for the given (upper-case) names; rejects with AppError SECRET_NOT_FOUND naming a missing one. */
  resolve(names: string[]): Promise<Record<string, string>>
}

export interface EngineOptions {
  config: Config
  /** Opened from `config.storage` when not given (and then closed by `shutdown`). */
  store?: Store
  clock?: Clock
  secrets?: SecretSource
  /**
   * Resume the store's unfinished executions (default true). `workflow run` says false: its engine runs only
   * the execution it creates, so it never takes over the live work of a server or another run on the same file.
   */
  recover?: boolean
  /** The runners tasks may name (default: the built-in ones, sandbox/runners.ts RUNNER_KINDS). */
  runners?: RunnerRegistry
  /**
   * Load the plugins in a throwaway worker thread, so that Ajv (the strict manifest schema check, ~7 MB resident)
   * never stays on this thread. For a long-lived engine (the server); a short one (`workflow run`) loads them here,
   * ~0.1–0.3 s sooner.
   */
  pluginsOffThread?: boolean
  /** Told what the operator should know (a plugin whose permissions changed since last loaded); the server logs it as a WARN. */
  onWarning?(message: string): void
  /**
   * Modules of task kinds beyond the built-in ones, each exporting `taskKind: TaskKindModule`
   * (actors/execution/steps/registry.ts), loaded into every worker. Workflows using them are parsed with the
   * same kinds (`parseWorkflow(text, limits, { kinds })`) by the caller: the server's parser knows only the built-ins.
   */
  taskKinds?: string[]
  /** This engine's lease on its executions (default 30 s, renewed every 10 s; see actors/supervisor/lease.ts). */
  lease?: { ttlMs: number; renewMs: number }
  /**
   * The workflows a subflow may start, by id, instead of the store's applied ones: `workflow run` passes the
   * workflows of its files (docs/cli.md#run), so a local run never depends on what a server applied to the same
   * store. A child of any other id fails NOT_FOUND.
   */
  localWorkflows?: ReadonlyMap<string, Workflow>
}

export interface StartRequest {
  /** An applied workflow (its current revision is snapshotted into the execution)… */
  workflowId?: string
  /** …or a workflow model given directly (local `workflow run`). */
  workflow?: Workflow
  inputs?: Record<string, unknown>
  /**
   * Labels for this execution, merged over the workflow's (these win); checked by the label rules
   * (runtime/workflow/labels.ts): INVALID_INPUT naming the label otherwise.
   */
  labels?: Record<string, string>
  trigger: TriggerInfo
}

export interface StartOptions {
  /**
   * The cron tick this execution fires: recorded in the commit that creates it, under the ledger's unique key.
   * A tick fired already (by this engine or another on the same store) rejects with CONFLICT
   * (`details.duplicateFire`), and nothing is created.
   */
  cronFire?: { triggerIndex: number; scheduledAt: number }
}

export type EngineEvent =
  | { type: 'execution'; executionId: string; workflowId: string; state: ExecutionState; at: number }
  | { type: 'task'; executionId: string; taskId: string; state: TaskRunState; attempt: number; at: number }
  | { type: 'log'; line: LogRecord }

export interface EngineStats {
  runningExecutions: number
  queuedExecutions: number
  runningTasks: number
  waitingTasks: number
  /** Checkpoints are queued because the store refuses writes; they are being retried. */
  waitingForStore: boolean
  /**
   * Self-fenced: the lease could not be renewed in time (a node cut off from PostgreSQL), so everything this engine
   * ran was interrupted and nothing starts until it is renewed (docs/scale-out.md).
   */
  fenced: boolean
  /** Since when it is fenced (the engine's clock, ms since epoch); null while it is not. */
  fencedSince: number | null
  /** Callers waiting for an execution to end (`waitFor`: `?wait=` requests, `workflow run`). */
  executionWaiters: number
  /** The execution worker threads (docs/engine.md#the-idle-worker). */
  workers: WorkerStats
}

export interface WorkerStats {
  /** Alive now (0 once an idle one was stopped: `execution.workerIdleSeconds`). */
  alive: number
  /** Started so far (the first, then one after each crash or idle stop). */
  started: number
  /** Stopped so far because they hosted nothing for the idle delay (counted when the stop begins). */
  idleStops: number
  /** Idle delays that ended with the worker kept, because it still held warm processes (`workflow`-level pools). */
  keptForWarm: number
}

export interface Engine {
  readonly store: Store
  /** This engine's id in the node registry (its lease owner id: the `engines` row, `GET /api/v1/nodes`). */
  readonly nodeId: string
  /** The plugins found at start-up, each manifest's grant checked: what every task of this engine may be given. */
  readonly plugins: EnginePlugins
  /** Validates inputs (AppError INVALID_INPUT naming the input), creates the execution PENDING and queues it. */
  start(req: StartRequest, opts?: StartOptions): Promise<ExecutionRecord>
  /** Idempotent: a terminal execution is returned unchanged. */
  cancel(executionId: string, reason?: string): Promise<ExecutionRecord>
  /**
   * Re-runs a FAILED or CANCELLED execution in the same execution: its failed, cancelled, interrupted and skipped
   * runs get new attempts, SUCCESS outputs are kept, RESTARTED is audited (with `by`, an API key's name).
   * NOT_FOUND; CONFLICT in any other state.
   */
  restart(executionId: string, by?: string): Promise<ExecutionRecord>
  /**
   * A new execution of the same workflow snapshot that reuses the recorded outputs of the tasks upstream of
   * `from` and runs the rest, with `inputs` replacing the original's; linked by `replayOf`.
   */
  replay(executionId: string, req: { from: string; inputs?: Record<string, unknown>; by?: string }): Promise<ExecutionRecord>
  /**
   * A decision on an awaiting run (an approval's approve or reject); resolves with the run as committed.
   * NOT_FOUND (execution, task), CONFLICT (nothing waits for a decision there), INVALID_INPUT (inputs refused).
   */
  decide(executionId: string, taskId: string, decision: Decision): Promise<TaskRunRecord>
  /**
   * Resolves with the record once the execution is terminal (woken by the engine's own events, never by polling).
   * When `signal` aborts first it rejects with the signal's reason, and the waiter is released.
   */
  waitFor(executionId: string, opts?: { signal?: AbortSignal }): Promise<ExecutionRecord>
  /** The execution as committed, after what is queued for commit now. */
  snapshot(executionId: string): Promise<ExecutionSnapshot | undefined>
  subscribe(listener: (e: EngineEvent) => void): () => void
  stats(): EngineStats
  /** Stops dispatching; lets running tasks finish up to `graceMs`, then interrupts them (they resume on restart). */
  shutdown(opts?: { graceMs?: number }): Promise<void>
}
