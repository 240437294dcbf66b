/** Hosts execution actors inside a worker: plugin registry, runners, one masker per execution. */

import { systemClock, type Clock } from '../../runtime/clock.ts'
import { Masker } from '../../runtime/secrets/masker.ts'
import type { ChildEnd, ExecutionSnapshot } from '../../runtime/store/types.ts'
import { ActionSchemas } from '../../sandbox/plugins/schemas.ts'
import { createRunnerSet, DEFAULT_RUNNER, RUNNER_KINDS, type RunnerSet } from '../../sandbox/runners.ts'
import { ExecutionActor } from '../execution/actor.ts'
import type { Decision } from '../execution/protocol.ts'
import type { DecideReply, FileSettings, IdleState, SupervisorPort, WorkerSettings } from '../supervisor/protocol.ts'
import type { BlobStore } from '../../runtime/files/blob-store.ts'
import { createLocalBlobStore } from '../../runtime/files/local.ts'
import { attemptRunner, executionScope, runTaskActor, type TaskActorDeps } from '../task/actor.ts'
import type { LogBudget, LogLimits } from '../task/log-limit.ts'
import { TASK_STEPS, type TaskSteps } from '../execution/steps/registry.ts'
import { rawDefaults } from '../../runtime/config/schema.ts'

/** The worker's blob store, made on first use (its directories are created then), and the bounds of what it takes. */
function fileDeps(s: FileSettings): NonNullable<TaskActorDeps['files']> {
  let store: BlobStore | undefined
  return { store: () => (store ??= createLocalBlobStore(s.dir)), maxFileBytes: s.maxFileBytes, maxExecutionBytes: s.maxExecutionBytes, maxFilesPerTask: s.maxFilesPerTask }
}

export class ExecutionHost {
  private readonly actors = new Map<string, ExecutionActor>()
  private readonly maskers = new Map<string, Masker>()
  private readonly logBudgets = new Map<string, LogBudget>()
  private readonly taskDeps: TaskActorDeps
  private idle: (() => void) | undefined
  private readonly runners: RunnerSet
  private readonly maxForEachItems: number | undefined

  constructor(private readonly port: SupervisorPort, settings: WorkerSettings, private readonly steps: TaskSteps = TASK_STEPS, private readonly clock: Clock = systemClock) {
    const registry = settings.registry
    this.maxForEachItems = settings.maxForEachItems
    const { sandbox } = settings
    const limits = { memoryMb: sandbox.memoryMb, cpuSeconds: sandbox.cpuSeconds, maxProcesses: sandbox.maxProcesses, maxOutputBytes: sandbox.maxOutputBytes }
    const d = rawDefaults().sandbox
    // One size cap and one depth bound for every runner's result, and for the output the task actor checks.
    const resultBounds = { maxBytes: sandbox.maxResultBytes ?? d.maxResultBytes, maxDepth: sandbox.maxResultDepth ?? d.maxResultDepth }
    const logLimits: LogLimits = {
      mode: sandbox.logLimit ?? d.logLimit,
      perAttempt: { lines: sandbox.maxLogLinesPerAttempt ?? d.maxLogLinesPerAttempt, bytes: sandbox.maxLogBytesPerAttempt ?? d.maxLogBytesPerAttempt },
      perExecution: { lines: sandbox.maxLogLinesPerExecution ?? d.maxLogLinesPerExecution, bytes: sandbox.maxLogBytesPerExecution ?? d.maxLogBytesPerExecution },
    }
    // Each runner is made the first time a task of this worker needs it (dockerode loads only then); the default
    // one now, so its spare processes and its sweep of stale cgroups start with the worker, as they always did.
    this.runners = createRunnerSet(settings.runners ?? RUNNER_KINDS, { mode: sandbox.mode, limits, resultBounds, config: sandbox })
    void this.runners.warm(DEFAULT_RUNNER).catch(() => undefined)
    this.taskDeps = {
      port,
      registry,
      grants: settings.grants,
      runners: settings.runners ?? RUNNER_KINDS,
      runner: (name) => this.runners.get(name),
      schemas: new ActionSchemas(),
      masker: (id) => this.maskerFor(id),
      defaultTimeoutMs: settings.defaultTimeoutMs,
      isolation: sandbox.isolation ?? d.isolation,
      passEnv: settings.passEnv,
      sandboxMode: sandbox.mode,
      now: () => clock.now(),
      outputBounds: resultBounds,
      logLimits,
      limits,
      ...(settings.files ? { files: fileDeps(settings.files) } : {}),
      logBudget: (id) => {
        let b = this.logBudgets.get(id)
        if (!b) this.logBudgets.set(id, (b = { lines: 0, bytes: 0 }))
        return b
      },
    }
  }

  private maskerFor(executionId: string): Masker {
    let m = this.maskers.get(executionId)
    if (!m) this.maskers.set(executionId, (m = new Masker()))
    return m
  }

  run(snapshot: ExecutionSnapshot): void {
    const id = snapshot.execution.id
    if (this.actors.has(id)) return
    const actor = new ExecutionActor(snapshot, {
      ...(this.taskDeps.files ? { maxExecutionBytes: this.taskDeps.files.maxExecutionBytes } : {}),
      port: this.port,
      clock: this.clock,
      steps: this.steps,
      ...(this.maxForEachItems !== undefined ? { maxForEachItems: this.maxForEachItems } : {}),
      mask: (execId, value) => this.maskerFor(execId).maskDeep(value),
      runTask: (snap, run) => runTaskActor(this.taskDeps, { type: 'task.run', snapshot: snap, ...run }),
      runnerFor: (call) => attemptRunner(this.taskDeps.registry, call),
      onStopped: (execId) => {
        this.actors.delete(execId)
        this.maskers.delete(execId)
        this.logBudgets.delete(execId)
        // Its warm processes (isolation: execution) go with it; a resumed execution starts new ones.
        this.runners.release(executionScope(execId))
        this.port.executionFinished(execId)
        if (this.actors.size === 0) this.idle?.()
      },
    })
    this.actors.set(id, actor)
    actor.start()
  }

  /** Whether the cancel was taken; false when the execution is not (or no longer) running here (it parked, ended). */
  async cancel(executionId: string, reason: string): Promise<boolean> {
    const actor = this.actors.get(executionId)
    if (!actor || actor.stopped) return false
    return actor.cancel(reason).then((r) => r !== 'gone', () => false)
  }

  /** A decision for an awaiting run (see WorkerApi.decide). */
  async decide(executionId: string, path: string, decision: Decision): Promise<DecideReply> {
    const actor = this.actors.get(executionId)
    if (!actor || actor.stopped) return { kind: 'absent' }
    try {
      const error = await actor.decide(path, decision)
      if (error === 'gone') return { kind: 'absent' }
      return error ? { kind: 'refused', error } : { kind: 'taken' }
    } catch {
      return { kind: 'absent' } // it stopped (parked, ended) before the decision's turn: it is looked for again
    }
  }

  /** A child execution ended: told to its parent's actor. False when the parent is not (or no longer) running here. */
  childEnded(executionId: string, path: string, end: ChildEnd): boolean {
    const actor = this.actors.get(executionId)
    if (!actor || actor.stopped) return false
    actor.tell({ type: 'task.childEnded', path, end })
    return true
  }

  /** Stops every execution without a terminal state (shutdown), then kills the spare plugin processes. */
  async interruptAll(): Promise<void> {
    if (this.actors.size > 0) {
      const done = new Promise<void>((r) => (this.idle = r))
      for (const a of this.actors.values()) a.tell({ type: 'execution.interrupt' })
      await done
    }
    await this.runners.close()
  }

  /**
   * Self-fencing: every attempt of every execution killed now (ExecutionActor.fence: not through their mailboxes, which
   * a commit on a lost link may hold) and waited for (their runners reap the processes and remove the containers), then
   * the spare and warm processes. The engine stops this worker next (at once if this takes longer than its grace).
   */
  async fence(): Promise<void> {
    await Promise.all([...this.actors.values()].map((a) => a.fence()))
    await this.runners.close()
  }

  hosted(): string[] {
    return [...this.actors.keys()]
  }

  async idleState(): Promise<IdleState> {
    return { actors: this.actors.size, warm: await this.runners.holdsWarm() }
  }
}
