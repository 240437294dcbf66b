/** `workflow server start [--detach] | stop | status | nodes`: run the API server, as a daemon, stop it, check it, list the nodes on its store. */
import { closeSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { CAC } from 'cac'
import { call, createClient } from '../../api/client.ts'
import { dataDirHolder, lockFileOf } from '../../api/data-dir-lock.ts'
import { isAlive, ownPidNamespace, pidFileServer, readPidFile, runtimePaths } from '../../api/pidfile.ts'
import { requireApiKeys, startServer, stopOnSignals } from '../../api/server.ts'
import { loadConfig, type Config } from '../../runtime/config/index.ts'
import { BUN_START_FLAGS } from '../../runtime/bun-start.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { ensurePrivateDir, openPrivateFile } from '../../runtime/private-files.ts'
import { connect } from '../connection.ts'
import { nodesTable } from '../render/nodes.ts'
import { emit, globalOptions, runCommand, usageError, type CliContext, type GlobalOptions } from '../output.ts'

/** Its actions (the completion script offers them). */
export const ACTIONS = ['start', 'stop', 'status', 'nodes'] as const
const MAIN = join(import.meta.dir, '..', 'main.ts')

/** Polls `check` every 100 ms until it returns a value or `deadlineMs` passes. */
async function until<T>(deadlineMs: number, check: () => Promise<T | undefined> | T | undefined): Promise<T | undefined> {
  const end = Date.now() + deadlineMs
  for (;;) {
    const v = await check()
    if (v !== undefined || Date.now() > end) return v
    await Bun.sleep(100)
  }
}

const configOf = (g: GlobalOptions): Config => loadConfig(g.config !== undefined ? { file: g.config } : {})

/** Registers `server <action>`. */
export function register(cli: CAC, _ctx: CliContext): void {
  cli
    .command('server <action>', 'Run the API server: `server start [--detach]`, `server stop`, `server status`, `server nodes`')
    .option('--detach', 'start: run in the background (pid file and server.log in the data dir)')
    .example((name) => `  $ ${name} server start -c examples/config.yaml`)
    .action(runCommand(async (action: string, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      if (action === 'start') return options.detach === true ? startDetached(g) : startForeground(g)
      if (action === 'stop') return stop(g)
      if (action === 'status') return status(g)
      if (action === 'nodes') return nodes(g)
      throw usageError(`unknown server action "${action}" (expected: ${ACTIONS.join(', ')})`)
    }))
}

async function startForeground(g: GlobalOptions): Promise<void> {
  const server = await startServer(g.config !== undefined ? { configFile: g.config } : {})
  emit({ status: 'listening', url: server.url, pid: process.pid }, { json: g.json, human: (r) => `autokestra listening on ${r.url} (pid ${r.pid}); Ctrl+C to stop` })
  await stopOnSignals(server)
  process.exit(0)
}

async function startDetached(g: GlobalOptions): Promise<void> {
  // Check what the child would refuse, so errors keep their exit codes (3: config) instead of a log line.
  const config = configOf(g)
  requireApiKeys(config)
  const paths = runtimePaths(config)
  // The child takes the data dir lock itself (and refuses the same way); asking first keeps CONFLICT's message and
  // exit code here instead of in server.log.
  const memory = config.storage.path === ':memory:'
  if (!memory) ensurePrivateDir(paths.dataDir)
  // The data dir lock proves its holder lives, in whatever pid namespace; an in-memory store has only its pid file,
  // which must prove its server gone (one in another pid namespace may still run).
  const pidInfo = memory ? readPidFile(paths.pidFile) : undefined
  const existing = memory ? (pidInfo && pidFileServer(pidInfo) !== 'gone' ? pidInfo : undefined) : dataDirHolder(paths.dataDir)
  if (existing) {
    throw new AppError(ErrorCode.Conflict, `a server is already running on this data dir (pid ${existing.pid}${existing.url ? `, ${existing.url}` : ''}); ` +
      'stop it with: workflow server stop', { pid: existing.pid, ...(existing.url ? { url: existing.url } : {}) })
  }
  const log = openPrivateFile(paths.logFile, 'server log', { append: true })
  // Started like the installed command (its shebang): nothing planted in the working directory is read.
  const args = [process.execPath, ...BUN_START_FLAGS, MAIN, 'server', 'start', ...(g.config !== undefined ? ['-c', resolve(g.config)] : [])]
  const child = Bun.spawn(args, { stdio: ['ignore', log, log], detached: true, env: process.env })
  closeSync(log)
  child.unref()
  let exited: number | null = null
  void child.exited.then((c) => { exited = c })
  const info = await until(15_000, async () => {
    if (exited !== null) return null
    const pid = readPidFile(paths.pidFile)
    if (pid?.pid !== child.pid) return undefined
    const ok = await call(createClient(pid.url).health.get(), pid.url).then(() => true, () => false)
    return ok ? pid : undefined
  })
  if (!info) {
    const tail = readFileSync(paths.logFile, 'utf8').trim().split('\n').slice(-5).join('\n')
    throw new AppError(ErrorCode.Internal, `the server did not come up${exited !== null ? ` (exit code ${exited})` : ''}; ` +
      `last lines of ${paths.logFile}:\n${tail}`, { logFile: paths.logFile })
  }
  emit({ status: 'started', pid: info.pid, url: info.url, pidFile: paths.pidFile, logFile: paths.logFile }, {
    json: g.json,
    human: (r) => `autokestra started in the background: pid ${r.pid}, ${r.url}\n  log: ${r.logFile}\n  stop with: workflow server stop`,
  })
}

async function stop(g: GlobalOptions): Promise<void> {
  const config = configOf(g)
  const { pidFile, dataDir } = runtimePaths(config)
  const info = readPidFile(pidFile)
  // With a data dir, its lock decides (a pid this process cannot see proves nothing); in memory, the pid file only:
  // its pid is signalled only when it names, in our pid namespace, the process that wrote it.
  const memory = config.storage.path === ':memory:'
  if (!memory) refuseUnprovenPid(info?.pid, dataDir, pidFile)
  else if (info && pidFileServer(info) === 'unknown') {
    throw new AppError(ErrorCode.Conflict, `the server that wrote ${pidFile} runs in another pid namespace (${info.pidNs ?? 'unknown'}), where its ` +
      `pid is ${info.pid}: stop it from there (here that pid names another process, or none)`, { pid: info.pid, pidFile })
  }
  if (!info || (memory ? pidFileServer(info) !== 'alive' : !isAlive(info.pid))) {
    throw new AppError(ErrorCode.NotFound, `no server running for this data dir (no live pid in ${pidFile})`, { pidFile })
  }
  process.kill(info.pid, 'SIGTERM')
  const deadline = (config.server.shutdownGraceSeconds + 15) * 1000
  const gone = await until(deadline, () => (isAlive(info.pid) ? undefined : true))
  if (!gone) {
    throw new AppError(ErrorCode.Internal, `server pid ${info.pid} did not stop within ${deadline / 1000}s`, { pid: info.pid })
  }
  emit({ status: 'stopped', pid: info.pid }, { json: g.json, human: (r) => `autokestra stopped (pid ${r.pid})` })
}

/**
 * The pid file is only information: a server killed with -9 leaves it, and its pid may belong to another process
 * since; a server in another pid namespace wrote a pid that names something else here. Only the data dir lock
 * proves which process is the server (held while it lives, and its holder wrote its own pid and pid namespace),
 * so nothing else is ever signalled.
 */
function refuseUnprovenPid(pid: number | undefined, dataDir: string, pidFile: string): void {
  const holder = dataDirHolder(dataDir)
  if (holder?.pidNs !== undefined && holder.pidNs !== ownPidNamespace()) {
    throw new AppError(ErrorCode.Conflict, `the server on this data dir runs in another pid namespace (${holder.pidNs}), where ` +
      `its pid is ${holder.pid}: stop it from there (here that pid names another process, or none)`, { pid: holder.pid, pidNamespace: holder.pidNs })
  }
  if (!holder || holder.pid !== pid) {
    throw new AppError(ErrorCode.NotFound, `no server running for this data dir: ${pid === undefined ? `no pid in ${pidFile}` : `${pidFile} names pid ${pid}`}, but ` +
      `${holder ? `the server holding ${lockFileOf(dataDir)} is pid ${holder.pid}` : `nothing holds ${lockFileOf(dataDir)}`}` +
      `${pid === undefined ? '' : ` (the pid file is stale; pid ${pid} is another process)`}`, { pidFile, ...(pid === undefined ? {} : { pid }) })
  }
}

async function status(g: GlobalOptions): Promise<void> {
  const config = configOf(g)
  const info = readPidFile(runtimePaths(config).pidFile)
  const pid = info && pidFileServer(info) === 'alive' ? info.pid : undefined
  const url = g.server ?? info?.url ?? `http://127.0.0.1:${config.server.port}`
  const health = await call(createClient(url).health.get(), url)
  emit({ running: true, pid: pid ?? null, url, health }, {
    json: g.json,
    human: (r) => `autokestra is running at ${r.url}${r.pid ? ` (pid ${r.pid})` : ''}: ${r.health.status}, version ${r.health.version}, runtime ${r.health.runtime}`,
  })
}

/** The engines sharing the server's store (GET /api/v1/nodes), over HTTP like every remote command: --server, --api-key, -c. */
async function nodes(g: GlobalOptions): Promise<void> {
  const conn = connect(g)
  emit(await call(conn.client.api.v1.nodes.get(), conn.url), { json: g.json, human: nodesTable })
}
