/**
 * The typed interfaces across the worker-thread boundary (comlink): what a worker may ask of the
 * supervisor, and what the supervisor may ask of a worker. Every argument survives structured clone.
 */

import type { ErrorInfo, Result } from '../../runtime/errors.ts'
import type { ChildRequest, Decision } from '../execution/protocol.ts'
import type { TransitionResult, Transition } from '../../runtime/store/checkpoint.ts'
import type { ChildEnd, ExecutionSnapshot, NewLogLine } from '../../runtime/store/types.ts'
import type { Config } from '../../runtime/config/schema.ts'

/** The config's result and log limits (absent ones take the config defaults). */
export type ResultAndLogLimits = Pick<Config['sandbox'], 'maxResultBytes' | 'maxResultDepth' | 'logLimit' |
  'maxLogLinesPerAttempt' | 'maxLogBytesPerAttempt' | 'maxLogLinesPerExecution' | 'maxLogBytesPerExecution' |
  'isolation' | 'warmPoolSize' | 'maxWarmProcesses' | 'warmIdleSeconds'>
import type { GrantContext } from '../../sandbox/permissions/policy.ts'
import type { PluginRegistry } from '../../sandbox/plugins/registry.ts'
import type { RunnerRegistry } from '../../sandbox/runners.ts'

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
  /**
   * `checkpoint`, and the RUNNING of each of `begins` whose task slot is free at once, in the same batch (one commit
   * and one round trip for a step that ends one task and starts the next). `begun[i]` is that RUNNING's result (ok:
   * the slot is held for it; refused: no slot is held), or absent when no slot was free (the task waits in beginTask).
   */
  checkpointAndBegin(transitions: Transition[], begins: BeginTask[]): Promise<{ results: TransitionResult[]; begun: (TransitionResult | undefined)[] }>
  /** Waits for a global task slot (recording WAITING/CONCURRENCY_LIMIT if it must), then commits RUNNING; a refusal holds no slot. */
  beginTask(req: BeginTask): Promise<TransitionResult>
  /** Gives the task slot back; `lines` (already masked), the attempt's last log lines, are appended first, as by `log`. */
  endTask(executionId: string, taskId: string, lines?: NewLogLine[]): void
  /** Appends (already masked) log lines; fire and forget, order preserved. */
  log(lines: NewLogLine[]): void
  /** Secret values for a task about to start; only the names the workflow declared. */
  resolveSecrets(executionId: string, names: string[]): Promise<Result<Record<string, string>>>
  /** The execution actor has stopped (terminal, or interrupted for shutdown). */
  executionFinished(executionId: string): void
  /**
   * Creates a subflow's child execution (admission, the child's inputs, the depth limit) in one durable request with
   * the parent run's WAITING (SUBFLOW), and queues it; the error as data when it was refused (nothing committed).
   */
  startChild(request: ChildRequest): Promise<Result<void>>
}

/** Config `storage.files`, as a worker needs it. */
export interface FileSettings { dir: string; maxFileBytes: number; maxExecutionBytes: number; maxFilesPerTask: number }

/** Settings a worker needs; derived from the engine config. */
export interface WorkerSettings {
  /** The plugins the engine loaded (and recorded): workers never read manifests themselves. */
  registry: PluginRegistry
  /** Bounds and policy a task's effective grant is checked against when it starts. */
  grants: Omit<GrantContext, 'runner'>
  /** The runners tasks may name (plain data: each runner's module is imported in the worker); default RUNNER_KINDS. */
  runners?: RunnerRegistry
  sandbox: {
    mode: 'strict' | 'permissive'; memoryMb: number; cpuSeconds: number; maxProcesses: number; maxOutputBytes: number; dockerImage?: string
    uidRange?: { start: number; count: number }
  } & Partial<ResultAndLogLimits>
  defaultTimeoutMs: number
  /**
   * Engine environment values plugins may receive when their grant declares them (`permissions.env`): only
   * the names the operator lists in `sandbox.passEnv`. Each is masked like a secret wherever it shows.
   */
  passEnv: Record<string, string>
  /** Items a forEach list may hold (config `limits.maxForEachItems`; default DEFAULT_MAX_FOR_EACH_ITEMS). */
  maxForEachItems?: number
  /** Task files (config `storage.files`): where the local blob store is, and its bounds. Absent: tasks with files fail. */
  files?: FileSettings
  /** Modules of task kinds beyond the built-ins (EngineOptions.taskKinds), imported by each worker at init. */
  taskKindModules?: string[]
}

/** A worker's answer to "may you be stopped for idleness" (see WorkerPool). */
export interface IdleState {
  /** Execution actors it hosts. */
  actors: number
  /** Whether a runner of it keeps warm processes (`workflow`-level pools outlive their executions). */
  warm: boolean
}

/** What a worker answers to a decision. */
export type DecideReply = { kind: 'taken' } | { kind: 'refused'; error: ErrorInfo } | { kind: 'absent' }

/** Exposed by each worker (comlink over the Worker itself). */
export interface WorkerApi {
  init(port: MessagePort, settings: WorkerSettings): Promise<void>
  run(snapshot: ExecutionSnapshot): void
  /** Whether the cancel was taken; false when the execution is not running here (any more: it parked or ended). */
  cancel(executionId: string, reason: string): Promise<boolean>
  /** A decision on an awaiting run of an execution this worker hosts: taken (committed), refused, or not hosted here. */
  decide(executionId: string, path: string, decision: Decision): Promise<DecideReply>
  /** A child execution ended: told to its parent's actor; false when the parent is not running here (any more). */
  childEnded(executionId: string, path: string, end: ChildEnd): boolean
  /** Stops every execution without a terminal state (shutdown); resolves when all have stopped. */
  interruptAll(): Promise<void>
  /** Self-fencing: kills every attempt now, past any mailbox (WorkerHost.fence); the engine stops the worker next. */
  fence(): Promise<void>
  hosted(): string[]
  /** What keeps it from being stopped for idleness: the executions it hosts, and whether it keeps warm processes. */
  idleState(): Promise<IdleState>
}
