/** Builds the engine: the store, the supervisor, its worker pool; resumes unfinished executions. */

import { existsSync } from 'node:fs'
import { parseDuration, systemClock } from '../runtime/clock.ts'
import type { BlobStore } from '../runtime/files/blob-store.ts'
import { createLocalBlobStore } from '../runtime/files/local.ts'
import { STAGE_ROOT } from '../sandbox/docker/stage-root.ts'
import { startRetention } from './retention.ts'
import { RESERVED_ENV } from '../runtime/config/schema.ts'
import { resolveMasterKey } from '../runtime/secrets/key.ts'
import { SecretStore } from '../runtime/secrets/store.ts'
import { openStore } from '../runtime/store/backends.ts'
import type { Store } from '../runtime/store/store.ts'
import { isStorageUnavailable } from '../runtime/store/unavailable.ts'
import type { Engine, EngineOptions, SecretSource } from './engine-types.ts'
import { describeChange, enginePlugins, enginePluginsOffThread, recordGrants } from './plugins.ts'
import { Supervisor } from './supervisor/supervisor.ts'
import type { WorkerSettings } from './supervisor/protocol.ts'

/** Opens the secret store on first use, so workflows without secrets never need a master key. */
function lazySecrets(store: Store, keyFile: string): SecretSource {
  let secrets: SecretStore | undefined
  return {
    async resolve(names) {
      secrets ??= new SecretStore(store.secrets, resolveMasterKey({ env: process.env, keyFile }).key)
      return secrets.resolve(names)
    },
  }
}

/**
 * The engine variables plugins may receive: only those the operator lists in `sandbox.passEnv` (default none),
 * never a reserved one. Everything else in the engine's environment is unreachable from a plugin.
 */
function passedEnv(names: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of names) {
    const v = env[name]
    if (v !== undefined && !RESERVED_ENV.test(name)) out[name] = v
  }
  return out
}

/**
 * Unmounts the docker staging points of engines that died without their exit hook (kill -9), judged by each staging
 * dir's liveness lock, never by a pid (mount-stage.ts sweepStaging): at every start, not only when a docker runner is
 * made (an engine whose plugins no longer run under Docker would leave them mounted for good). Nothing to do, and
 * nothing loaded, where no staging root exists.
 */
async function sweepDeadStaging(): Promise<void> {
  if (process.getuid?.() !== 0 || !existsSync(STAGE_ROOT)) return
  try { (await import('../sandbox/docker/mount-stage.ts')).sweepStaging() } catch { /* unreadable: nothing of ours to sweep */ }
}

export async function createEngine(opts: EngineOptions): Promise<Engine> {
  const { config } = opts
  await sweepDeadStaging()
  const clock = opts.clock ?? systemClock
  const store = opts.store ?? await openStore(config.storage)
  const passEnv = passedEnv(config.sandbox.passEnv, process.env)
  // Loaded once, here: the grant recorded (and warned about when it changed) is the grant the workers enforce.
  const plugins = opts.pluginsOffThread ? await enginePluginsOffThread(config, opts.runners) : enginePlugins(config, opts.runners)
  try {
    for (const change of await recordGrants(store, plugins.registry, clock.now())) opts.onWarning?.(describeChange(change))
  } catch (e) {
    // A store that cannot be written must not stop the engine from starting (it recovers once writes work);
    // the grants are recorded, and any change reported, on a later start.
    if (!isStorageUnavailable(e)) throw e
    opts.onWarning?.(`plugin grants not recorded: ${(e as Error).message}`)
  }
  const settings: WorkerSettings = {
    registry: plugins.registry,
    grants: plugins.grants,
    runners: plugins.runners,
    sandbox: config.sandbox,
    defaultTimeoutMs: config.execution.defaultTimeoutSeconds * 1000,
    passEnv,
    maxForEachItems: config.limits.maxForEachItems,
    files: config.storage.files,
    ...(opts.taskKinds?.length ? { taskKindModules: opts.taskKinds } : {}),
  }
  const supervisor = new Supervisor({
    store, clock, secrets: opts.secrets ?? lazySecrets(store, config.secrets.keyFile), settings, workers: config.execution.workers,
    maxConcurrentWorkflows: config.execution.maxConcurrentWorkflows, maxConcurrentTasks: config.execution.maxConcurrentTasks,
    ...(config.cluster.maxConcurrentWorkflows !== undefined ? { clusterMaxConcurrentWorkflows: config.cluster.maxConcurrentWorkflows } : {}),
    maxSubflowDepth: config.limits.maxSubflowDepth, workerIdleMs: config.execution.workerIdleSeconds * 1000,
    lease: opts.lease ?? { ttlMs: config.cluster.leaseSeconds * 1000, renewMs: config.cluster.heartbeatSeconds * 1000 },
    ...(opts.localWorkflows ? { localWorkflows: opts.localWorkflows } : {}),
  })
  await supervisor.begin()
  if (opts.recover !== false) await supervisor.recover()
  // Old executions go (execution.retention) and blobs nothing names are collected, every retentionCheckSeconds.
  let blobs: BlobStore | undefined
  const retention = startRetention({
    store, clock, blobs: () => (blobs ??= createLocalBlobStore(config.storage.files.dir)), everyMs: config.execution.retentionCheckSeconds * 1000,
    retentionMs: config.execution.retention === undefined ? undefined : parseDuration(config.execution.retention),
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
  })
  let closed = false
  return {
    store,
    nodeId: supervisor.nodeId,
    plugins,
    start: (req, o) => supervisor.start(req, o),
    cancel: (id, reason) => supervisor.cancel(id, reason),
    decide: (id, taskId, decision) => supervisor.decide(id, taskId, decision),
    restart: (id, by) => supervisor.restart(id, by),
    replay: (id, req) => supervisor.replay(id, req),
    waitFor: (id, o) => supervisor.waitFor(id, o?.signal),
    snapshot: (id) => supervisor.snapshot(id),
    subscribe: (l) => supervisor.subscribe(l),
    stats: () => supervisor.stats(),
    async shutdown(o = {}) {
      if (closed) return
      closed = true
      await retention.stop()
      await supervisor.shutdown(o.graceMs ?? config.server.shutdownGraceSeconds * 1000)
      if (!opts.store) await store.close()
    },
  }
}

export type { Engine, EngineOptions, EngineEvent, StartRequest } from './engine-types.ts'
export type { Decision } from './execution/protocol.ts'
export { BUILTIN_PLUGINS, enginePlugins, type EnginePlugins } from './plugins.ts'
