/** Server bootstrap: config → data dir lock → store → secrets → engine → Elysia listening; graceful stop; pid file. */
import type { ConsolaInstance } from 'consola/basic'
import pkg from '../package.json' with { type: 'json' }
import type { Engine } from '../actors/engine-types.ts'
import { loadConfig, type Config } from '../runtime/config/index.ts'
import { createTriggerLoops, type TriggerLoop } from '../actors/triggers/loops.ts'
import { AppError, ErrorCode } from '../runtime/errors.ts'
import { ensurePrivateDir, securePrivateFile } from '../runtime/private-files.ts'
import { resolveMasterKey, SecretStore } from '../runtime/secrets/index.ts'
import { describeStorage, openStore } from '../runtime/store/backends.ts'
import { describeWriteHealth } from '../runtime/store/health.ts'
import { createApp, type App } from './app.ts'
import { lockDataDir, type DataDirLock } from './data-dir-lock.ts'
import { describePortHolder } from './port-holder.ts'
import { createTracer, type Tracer } from './tracing.ts'
import { ownPidIdentity, pidFileServer, readPidFile, removePidFile, runtimePaths, writePidFile } from './pidfile.ts'
import { loggablePath, pathOf } from './request-path.ts'
import { createServerLogger, logRequestWith } from './server-logger.ts'

export { createServerLogger } from './server-logger.ts'

/** Set to `1` to serve the API (reads) without running executions. */
export const DISABLE_RUNTIME_ENV = 'AUTOKESTRA_DISABLE_RUNTIME'

export interface StartServerOptions {
  configFile?: string
  env?: Record<string, string | undefined>
  cwd?: string
  logger?: ConsolaInstance
}

export interface RunningServer {
  url: string
  config: Config
  app: App
  pidFile: string
  /** Stops accepting, lets running tasks finish up to the grace period, closes the store. Idempotent. */
  stop(): Promise<void>
}

/** Throws INVALID_CONFIG unless at least one API key is configured, saying how to add one. */
export function requireApiKeys(config: Config): void {
  if (config.server.apiKeys.length > 0) return
  throw new AppError(ErrorCode.InvalidConfig,
    'no API key configured: the server refuses to start without one. Add a key under `server.apiKeys` in the ' +
    'config file (see examples/config.yaml) or set WORKFLOW_API_KEYS=key1,key2 — generate one with: openssl rand -hex 24',
    { path: 'server.apiKeys' })
}

/** Loads everything and listens on `server.host:server.port`. */
export async function startServer(opts: StartServerOptions = {}): Promise<RunningServer> {
  const env = opts.env ?? process.env
  const config = loadConfig({ ...(opts.configFile !== undefined ? { file: opts.configFile } : {}), env, ...(opts.cwd ? { cwd: opts.cwd } : {}) })
  requireApiKeys(config)
  const log = opts.logger ?? createServerLogger(config.logging.level, config.logging.format)
  const paths = runtimePaths(config)
  const lock = claimDataDir(config, paths, log)
  let store: Awaited<ReturnType<typeof openStore>>
  try {
    // Data dir 0700, database files 0600 (narrowed with a warning if they were wider), before anything is written.
    store = await openStore(config.storage, { onWarn: (m) => log.warn(m) })
  } catch (e) {
    lock?.release()
    throw e
  }
  // Failed commits are logged once per burst (start, a reminder a minute, end with the count), never per write.
  store.health.subscribe((e) => {
    const { level, message } = describeWriteHealth(e)
    log[level](message)
  })
  let engine: Engine | undefined
  let scheduler: TriggerLoop | undefined
  let tracer: Tracer | undefined
  try {
    for (const [file, what] of [[paths.pidFile, 'pid file'], [paths.logFile, 'server log']] as const) securePrivateFile(file, what, (m) => log.warn(m))
    const master = resolveMasterKey({ env, keyFile: config.secrets.keyFile })
    if (master.source === 'generated') log.info(`generated a new secret master key at ${master.keyFile} (mode 0600): back it up`)
    const secrets = new SecretStore(store.secrets, master.key)
    if (env[DISABLE_RUNTIME_ENV] === '1') log.warn(`${DISABLE_RUNTIME_ENV}=1: serving reads only, executions will not run`)
    else {
      const { createEngine } = await import('../actors/engine.ts')
      engine = await createEngine({ config, store, secrets, pluginsOffThread: true, onWarning: (m) => log.warn(m) })
      if (config.tracing.otlpEndpoint) {
        tracer = createTracer(engine, { endpoint: config.tracing.otlpEndpoint, serviceName: config.tracing.serviceName, version: pkg.version, log })
      }
      // The trigger types' live loops (actors/triggers/loops.ts: cron fires through the engine, once per tick; docs/triggers.md).
      scheduler = createTriggerLoops({ engine, warn: (message, ...context) => log.warn(message, ...context) })
    }
    const app = createApp({
      engine, store, secrets, config, scheduler,
      logInternalError: (e, req) => log.error(req ? `${req.method} ${loggablePath(pathOf(req))} failed:` : 'request failed:', e),
      ...(config.logging.requests ? { logRequest: logRequestWith(log) } : {}),
    })
    listen(app, config)
    const port = app.server?.port ?? config.server.port
    const url = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`
    lock?.listening(url)
    writePidFile(paths.pidFile, { pid: process.pid, url, startedAt: Date.now(), ...ownPidIdentity() })
    scheduler?.start()
    log.info(`listening on ${url} (runtime ${engine ? 'enabled' : 'disabled'}, store ${describeStorage(config.storage)}, ` +
      `${config.server.apiKeys.length} API key${config.server.apiKeys.length === 1 ? '' : 's'})`)
    let stopping: Promise<void> | undefined
    const stop = () => (stopping ??= (async () => {
      const graceMs = config.server.shutdownGraceSeconds * 1000
      log.info(`shutting down: no new requests; running tasks get up to ${config.server.shutdownGraceSeconds}s`)
      // Stop accepting first, then drain the engine; SSE streams still open are closed afterwards.
      await app.server?.stop(false).catch(() => {})
      await scheduler?.stop()
      await engine?.shutdown({ graceMs })
      await tracer?.stop()
      await app.stop(true).catch(() => {})
      await store.close()
      // The last server of this process on the data dir: nobody else could have written the pid file meanwhile.
      if (lock === undefined || lock.release()) removePidFile(paths.pidFile, process.pid)
      log.info('stopped')
    })())
    return { url, config, app, pidFile: paths.pidFile, stop }
  } catch (e) {
    await scheduler?.stop()
    await engine?.shutdown({ graceMs: 0 }).catch(() => {})
    await store.close()
    lock?.release()
    throw e
  }
}

/**
 * Takes the data dir's lock before anything opens the store, so of two servers started together on one data dir
 * exactly one recovers and serves; the other gets CONFLICT naming it. An in-memory store shares nothing but the
 * pid file in the working directory, which the pid file check still guards (the lock would chmod the cwd).
 */
function claimDataDir(config: Config, paths: ReturnType<typeof runtimePaths>, log: ConsolaInstance): DataDirLock | undefined {
  if (config.storage.path === ':memory:') {
    const running = readPidFile(paths.pidFile)
    // Refused unless provably gone: a server in another pid namespace may still use the pid file.
    if (running && running.pid !== process.pid && pidFileServer(running) !== 'gone') {
      throw new AppError(ErrorCode.Conflict, `a server is already running in this directory (pid ${running.pid}, ${running.url}); ` +
        'stop it with: workflow server stop', { pid: running.pid, pidFile: paths.pidFile })
    }
    return undefined
  }
  ensurePrivateDir(paths.dataDir, 'data directory', (m) => log.warn(m))
  return lockDataDir(paths.dataDir)
}

/**
 * Listens on the configured address, alone: Elysia asks Bun for SO_REUSEPORT, with which a second server on the
 * same port (another data dir, another user's process) would bind too and the kernel would split the
 * connections between them. A port in use is CONFLICT, not a stack.
 */
function listen(app: App, config: Config): void {
  try {
    app.listen({ hostname: config.server.host, port: config.server.port, reusePort: false })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e
    const holder = describePortHolder(config.server.port)
    const who = holder ? `another process (pid ${holder.pid}${holder.command ? `: ${holder.command}` : ''})` : 'another process'
    throw new AppError(ErrorCode.Conflict, `${config.server.host}:${config.server.port} is already in use by ${who}: ` +
      'stop it, or choose another server.port (env WORKFLOW_SERVER_PORT)',
      { host: config.server.host, port: config.server.port, ...(holder ? { pid: holder.pid } : {}) })
  }
}

/** Runs until SIGTERM/SIGINT, then stops gracefully and exits 0 (a second signal exits at once with 130). */
export function stopOnSignals(server: RunningServer): Promise<void> {
  return new Promise((resolve) => {
    let received = false
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) process.exit(130)
      received = true
      createServerLogger(server.config.logging.level, server.config.logging.format).info(`${signal} received`)
      void server.stop().then(resolve, resolve)
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
}
