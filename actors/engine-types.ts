/** The engine's public face: what the server, the scheduler and `workflow run` use. */

import type { Clock } from '../runtime/clock.ts'
import type { Config } from '../runtime/config/index.ts'
import type { ExecutionState, TaskRunState } from '../runtime/state/states.ts'
import type { ExecutionRecord, ExecutionSnapshot, LogRecord, Store, TriggerInfo } from '../runtime/store/sqlite/legacy.ts'
import type { Workflow } from '../runtime/workflow/model.ts'
import type { EnginePlugins } from './plugins.ts'

export interface SecretSource {
  /** Values for the given (upper-case) names; throws AppError SECRET_NOT_FOUND naming a missing one. */
  resolve(names: string[]): Record<string, string>
}

export interface EngineOptions {
  config: Config
  /** Opened from `config.storage.path` when not given. */
  store?: Store
  clock?: Clock
  secrets?: SecretSource
  /**
   * Resume the store's unfinished executions (default true). `workflow run` says false: its engine runs only
   * the execution it creates, so it never takes over the live work of a server or another run on the same file.
   */
  recover?: boolean
  /** Told what the operator should know (a plugin whose permissions changed since last loaded); the server logs it as a WARN. */
  onWarning?(message: string): void
}

export interface StartRequest {
  /** An applied workflow (its current revision is snapshotted into the execution)… */
  workflowId?: string
  /** …or a workflow model given directly (local `workflow run`). */
  workflow?: Workflow
  inputs?: Record<string, unknown>
  trigger: TriggerInfo
}

export interface StartOptions {
  /**
   * Runs inside the transaction that creates the execution (e.g. to record a cron fire with a unique
   * key). Throwing aborts the creation and nothing is written.
   */
  onCreate?: (executionId: string) => void
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
}

export interface Engine {
  readonly store: Store
  /** The plugins found at start-up, each manifest's grant checked: what every task of this engine may be given. */
  readonly plugins: EnginePlugins
  /** Validates inputs (AppError INVALID_INPUT naming the input), creates the execution PENDING and queues it. */
  start(req: StartRequest, opts?: StartOptions): Promise<ExecutionRecord>
  /** Idempotent: a terminal execution is returned unchanged. */
  cancel(executionId: string, reason?: string): Promise<ExecutionRecord>
  /** Resolves with the record once the execution is terminal. */
  waitFor(executionId: string): Promise<ExecutionRecord>
  snapshot(executionId: string): ExecutionSnapshot | undefined
  subscribe(listener: (e: EngineEvent) => void): () => void
  stats(): EngineStats
  /** Stops dispatching; lets running tasks finish up to `graceMs`, then interrupts them (they resume on restart). */
  shutdown(opts?: { graceMs?: number }): Promise<void>
}
