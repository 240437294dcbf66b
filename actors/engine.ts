/** Builds the engine: the store, the supervisor, its worker pool; resumes unfinished executions. */

import { systemClock } from '../runtime/clock.ts'
import { openStore } from '../runtime/store/store.ts'
import type { Engine, EngineOptions } from './engine-types.ts'
import { Supervisor } from './supervisor/supervisor.ts'
import type { WorkerSettings } from './supervisor/protocol.ts'

/** Engine-internal variables a plugin can never receive, whatever its manifest says. */
const RESERVED_ENV = /^(AUTOKESTRA_|WORKFLOW_)/

export async function createEngine(opts: EngineOptions): Promise<Engine> {
  const { config } = opts
  const clock = opts.clock ?? systemClock
  const store = opts.store ?? openStore(config.storage.path)
  const passEnv: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !RESERVED_ENV.test(k)) passEnv[k] = v
  const settings: WorkerSettings = {
    pluginPaths: config.plugins.paths,
    sandbox: config.sandbox,
    defaultTimeoutMs: config.execution.defaultTimeoutSeconds * 1000,
    passEnv,
  }
  const supervisor = new Supervisor({
    store, clock, secrets: opts.secrets, settings, workers: config.execution.workers,
    maxConcurrentWorkflows: config.execution.maxConcurrentWorkflows, maxConcurrentTasks: config.execution.maxConcurrentTasks,
  })
  await supervisor.recover()
  let closed = false
  return {
    store,
    start: (req, o) => supervisor.start(req, o),
    cancel: (id, reason) => supervisor.cancel(id, reason),
    waitFor: (id) => supervisor.waitFor(id),
    snapshot: (id) => supervisor.snapshot(id),
    subscribe: (l) => supervisor.subscribe(l),
    stats: () => supervisor.stats(),
    async shutdown(o = {}) {
      if (closed) return
      closed = true
      await supervisor.shutdown(o.graceMs ?? config.server.shutdownGraceSeconds * 1000)
      if (!opts.store) store.close()
    },
  }
}

export type { Engine, EngineOptions, EngineEvent, StartRequest } from './engine-types.ts'
