/** Hosts execution actors inside a worker: plugin registry, runners, one masker per execution. */

import { resolve } from 'node:path'
import { systemClock, type Clock } from '../../runtime/clock.ts'
import { Masker } from '../../runtime/secrets/masker.ts'
import type { ExecutionSnapshot } from '../../runtime/store/types.ts'
import { prepareLaunch } from '../../sandbox/process/isolation.ts'
import { createProcessRunner } from '../../sandbox/process/runner.ts'
import type { Runner } from '../../sandbox/runner.ts'
import { ExecutionActor } from '../execution/actor.ts'
import type { SupervisorPort, WorkerSettings } from '../supervisor/protocol.ts'
import { runTaskActor, type TaskActorDeps } from '../task/actor.ts'
import type { LogBudget, LogLimits } from '../task/log-limit.ts'
import { TASK_STEPS, type TaskSteps } from '../execution/steps/registry.ts'
import { rawDefaults } from '../../runtime/config/schema.ts'

export class ExecutionHost {
  private readonly actors = new Map<string, ExecutionActor>()
  private readonly maskers = new Map<string, Masker>()
  private readonly logBudgets = new Map<string, LogBudget>()
  private readonly taskDeps: TaskActorDeps
  private idle: (() => void) | undefined
  private readonly closeRunners: () => Promise<void>

  constructor(private readonly port: SupervisorPort, settings: WorkerSettings, private readonly steps: TaskSteps = TASK_STEPS, private readonly clock: Clock = systemClock) {
    const registry = settings.registry
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
    const launchOptions = sandbox.uidRange ? { uidRange: sandbox.uidRange } : {}
    const processRunner = createProcessRunner({ prepareLaunch: (spec) => prepareLaunch(spec, undefined, launchOptions), limits, mode: sandbox.mode, resultBounds })
    this.closeRunners = () => processRunner.close()
    // dockerode is heavy to load: only workers that meet a docker task pay for it.
    let dockerRunner: Promise<Runner> | undefined
    const docker: Runner = {
      kind: 'docker',
      run: async (req) => {
        dockerRunner ??= import('../../sandbox/docker/runner.ts').then((m) => m.createDockerRunner({
          sandboxDir: resolve(import.meta.dir, '../../sandbox'), limits, resultBounds, ...(sandbox.dockerImage ? { image: sandbox.dockerImage } : {}),
        }))
        return (await dockerRunner).run(req)
      },
    }
    this.taskDeps = {
      port,
      registry,
      grants: settings.grants,
      runner: (kind) => (kind === 'process' ? processRunner : docker),
      masker: (id) => this.maskerFor(id),
      defaultTimeoutMs: settings.defaultTimeoutMs,
      passEnv: settings.passEnv,
      sandboxMode: sandbox.mode,
      now: () => clock.now(),
      outputBounds: resultBounds,
      logLimits,
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
      port: this.port,
      clock: this.clock,
      steps: this.steps,
      runTask: (snap, run) => runTaskActor(this.taskDeps, { type: 'task.run', snapshot: snap, ...run }),
      onStopped: (execId) => {
        this.actors.delete(execId)
        this.maskers.delete(execId)
        this.logBudgets.delete(execId)
        this.port.executionFinished(execId)
        if (this.actors.size === 0) this.idle?.()
      },
    })
    this.actors.set(id, actor)
    actor.start()
  }

  cancel(executionId: string, reason: string): void {
    this.actors.get(executionId)?.tell({ type: 'execution.cancel', reason })
  }

  /** Stops every execution without a terminal state (shutdown), then kills the spare plugin processes. */
  async interruptAll(): Promise<void> {
    if (this.actors.size > 0) {
      const done = new Promise<void>((r) => (this.idle = r))
      for (const a of this.actors.values()) a.tell({ type: 'execution.interrupt' })
      await done
    }
    await this.closeRunners()
  }

  hosted(): string[] {
    return [...this.actors.keys()]
  }
}
