/**
 * The typed interfaces across the worker-thread boundary (comlink): what a worker may ask of the
 * supervisor, and what the supervisor may ask of a worker. Every argument survives structured clone.
 */

import type { Result } from '../../runtime/errors.ts'
import type { TransitionResult, Transition } from '../../runtime/store/checkpoint.ts'
import type { ExecutionSnapshot, NewLogLine } from '../../runtime/store/types.ts'

export interface BeginTask {
  executionId: string
  taskId: string
  attempt: number
  runner: string
}

/** Exposed by the supervisor (main thread) on a MessagePort handed to each worker. */
export interface SupervisorPort {
  /** Commits transitions (batched with others into one transaction); resolves once durable. */
  checkpoint(transitions: Transition[]): Promise<TransitionResult[]>
  /** Waits for a global task slot (recording WAITING/CONCURRENCY_LIMIT if it must), then commits RUNNING; a refusal holds no slot. */
  beginTask(req: BeginTask): Promise<TransitionResult>
  /** Gives the task slot back. */
  endTask(executionId: string, taskId: string): void
  /** Appends (already masked) log lines; fire and forget, order preserved. */
  log(lines: NewLogLine[]): void
  /** Secret values for a task about to start; only the names the workflow declared. */
  resolveSecrets(executionId: string, names: string[]): Promise<Result<Record<string, string>>>
  /** The execution actor has stopped (terminal, or interrupted for shutdown). */
  executionFinished(executionId: string): void
}

/** Settings a worker needs; derived from the engine config. */
export interface WorkerSettings {
  pluginPaths: string[]
  sandbox: { mode: 'strict' | 'permissive'; memoryMb: number; cpuSeconds: number; maxProcesses: number; maxOutputBytes: number; dockerImage?: string; uidRange?: { start: number; count: number } }
  defaultTimeoutMs: number
  /** Engine environment values plugins may receive when their manifest declares them (`permissions.env`). */
  passEnv: Record<string, string>
}

/** Exposed by each worker (comlink over the Worker itself). */
export interface WorkerApi {
  init(port: MessagePort, settings: WorkerSettings): Promise<void>
  run(snapshot: ExecutionSnapshot): void
  cancel(executionId: string, reason: string): void
  /** Stops every execution without a terminal state (shutdown); resolves when all have stopped. */
  interruptAll(): Promise<void>
  hosted(): string[]
}
