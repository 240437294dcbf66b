/** Server bootstrap: config → store → secrets → engine → Elysia listening; graceful stop; pid file. */
import { createConsola, type ConsolaInstance } from 'consola/basic'
import type { Engine } from '../actors/engine-types.ts'
import { loadConfig, type Config } from '../runtime/config/index.ts'
import { createScheduler, type Scheduler } from '../runtime/cron/index.ts'
import { AppError, ErrorCode } from '../runtime/errors.ts'
import { securePrivateFile } from '../runtime/private-files.ts'
import { resolveMasterKey, SecretStore } from '../runtime/secrets/index.ts'
import { openStore } from '../runtime/store/backends.ts'
import { describeWriteHealth } from '../runtime/store/health.ts'
import { createApp, type App } from './app.ts'
import { isAlive, readPidFile, removePidFile, runtimePaths, writePidFile } from './pidfile.ts'
import { loggablePath, pathOf } from './request-path.ts'

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

const LEVELS = { debug: 4, info: 3, warn: 1, error: 0 } as const

/**
 * A consola logger writing to stderr (stdout stays free for `--json`), plain text (consola's basic reporter):
 * the CLI's terminal guard (cli/terminal.ts) shows any escape sequence it did not make itself as text.
 */
export function createServerLogger(level: Config['logging']['level'] = 'info'): ConsolaInstance {
  return createConsola({ level: LEVELS[level], stdout: process.stderr, stderr: process.stderr }).withTag('autokestra')
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
  const log = opts.logger ?? createServerLogger(config.logging.level)
  const paths = runtimePaths(config)
  const running = readPidFile(paths.pidFile)
  if (running && running.pid !== process.pid && isAlive(running.pid)) {
    throw new AppError(ErrorCode.Conflict, `a server is already running on this data dir (pid ${running.pid}, ${running.url}); ` +
      'stop it with: workflow server stop', { pid: running.pid, pidFile: paths.pidFile })
  }
  // Data dir 0700, database files 0600 (narrowed with a warning if they were wider), before anything is written.
  const store = await openStore(config.storage, { onWarn: (m) => log.warn(m) })
  // Failed commits are logged once per burst (start, a reminder a minute, end with the count), never per write.
  store.health.subscribe((e) => {
    const { level, message } = describeWriteHealth(e)
    log[level](message)
  })
  let engine: Engine | undefined
  let scheduler: Scheduler | undefined
  try {
    for (const [file, what] of [[paths.pidFile, 'pid file'], [paths.logFile, 'server log']] as const) securePrivateFile(file, what, (m) => log.warn(m))
    const master = resolveMasterKey({ env, keyFile: config.secrets.keyFile })
    if (master.source === 'generated') log.info(`generated a new secret master key at ${master.keyFile} (mode 0600): back it up`)
    const secrets = new SecretStore(store.secrets, master.key)
    if (env[DISABLE_RUNTIME_ENV] === '1') log.warn(`${DISABLE_RUNTIME_ENV}=1: serving reads only, executions will not run`)
    else {
      const { createEngine } = await import('../actors/engine.ts')
      engine = await createEngine({ config, store, secrets, onWarning: (m) => log.warn(m) })
      // Cron triggers (runtime/cron): fires through the engine, exactly once per tick; see docs/triggers.md.
      scheduler = createScheduler({ engine, onError: (e, at) => log.warn('cron tick not fired', at, e) })
    }
    const app = createApp({
      engine, store, secrets, config, scheduler,
      logInternalError: (e, req) => log.error(req ? `${req.method} ${loggablePath(pathOf(req))} failed:` : 'request failed:', e),
    })
    app.listen({ hostname: config.server.host, port: config.server.port })
    const port = app.server?.port ?? config.server.port
    const url = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`
    writePidFile(paths.pidFile, { pid: process.pid, url, startedAt: Date.now() })
    scheduler?.start()
    log.info(`listening on ${url} (runtime ${engine ? 'enabled' : 'disabled'}, store ${config.storage.path}, ` +
      `${config.server.apiKeys.length} API key${config.server.apiKeys.length === 1 ? '' : 's'})`)
    let stopping: Promise<void> | undefined
    const stop = () => (stopping ??= (async () => {
      const graceMs = config.server.shutdownGraceSeconds * 1000
      log.info(`shutting down: no new requests; running tasks get up to ${config.server.shutdownGraceSeconds}s`)
      // Stop accepting first, then drain the engine; SSE streams still open are closed afterwards.
      await app.server?.stop(false).catch(() => {})
      await scheduler?.stop()
      await engine?.shutdown({ graceMs })
      await app.stop(true).catch(() => {})
      await store.close()
      removePidFile(paths.pidFile, process.pid)
      log.info('stopped')
    })())
    return { url, config, app, pidFile: paths.pidFile, stop }
  } catch (e) {
    await scheduler?.stop()
    await engine?.shutdown({ graceMs: 0 }).catch(() => {})
    await store.close()
    throw e
  }
}

/** Runs until SIGTERM/SIGINT, then stops gracefully and exits 0 (a second signal exits at once with 130). */
export function stopOnSignals(server: RunningServer): Promise<void> {
  return new Promise((resolve) => {
    let received = false
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) process.exit(130)
      received = true
      createServerLogger(server.config.logging.level).info(`${signal} received`)
      void server.stop().then(resolve, resolve)
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
}
