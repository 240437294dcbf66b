/** The server's pid file and log file in the data dir: written on listen, removed on stop, read by `server stop|status`. */
import { existsSync, readFileSync, readlinkSync, unlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Config } from '../runtime/config/index.ts'
import { writePrivateFile } from '../runtime/private-files.ts'
import { processStartTicks } from '../runtime/process-start.ts'

/** Where a server with this config keeps its pid file, log file (when detached) and data. */
export function runtimePaths(config: Config): { dataDir: string; pidFile: string; logFile: string } {
  const dataDir = config.storage.path === ':memory:' ? process.cwd() : dirname(config.storage.path)
  return { dataDir, pidFile: join(dataDir, 'autokestra.pid'), logFile: join(dataDir, 'server.log') }
}

/** What the pid file holds: enough for `server stop` and `server status` to find and check the server. */
export interface PidInfo {
  pid: number
  url: string
  startedAt: number
  /** The writer's pid namespace (`pid:[inode]`): `pid` names the server only from a process that shares it. */
  pidNs?: string
  /** The writer's start time (runtime/process-start.ts): a later process reusing `pid` has another. */
  startTicks?: string
}

/** The pid file's fields that say which process wrote it: this process's. */
export const ownPidIdentity = (): Pick<PidInfo, 'pidNs' | 'startTicks'> => {
  const pidNs = ownPidNamespace()
  const startTicks = processStartTicks()
  return { ...(pidNs ? { pidNs } : {}), ...(startTicks ? { startTicks } : {}) }
}

/**
 * Whether the server that wrote `info` still runs, where only its pid file can tell (an in-memory store has no data
 * dir lock): `alive` when the process with its pid in its pid namespace (ours) has its start time, `gone` when there
 * is no such process or another one; `unknown` when it wrote another pid namespace (its pid means nothing here). A
 * file of an older version, which names neither, is judged by its pid alone.
 */
export function pidFileServer(info: PidInfo): 'alive' | 'gone' | 'unknown' {
  if (info.pidNs === undefined && info.startTicks === undefined) return isAlive(info.pid) ? 'alive' : 'gone'
  const ns = ownPidNamespace()
  if (info.pidNs === undefined || ns === '' || info.pidNs !== ns) return 'unknown'
  const now = processStartTicks(info.pid)
  return now !== '' && now === info.startTicks ? 'alive' : 'gone'
}

export function readPidFile(file: string): PidInfo | undefined {
  if (!existsSync(file)) return undefined
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as PidInfo
    return typeof info.pid === 'number' && Number.isInteger(info.pid) && info.pid > 0 ? info : undefined
  } catch {
    return undefined
  }
}

/** Writes the pid file, 0600 whatever the umask (it says where the server listens; nobody else needs it). */
export function writePidFile(file: string, info: PidInfo): void {
  writePrivateFile(file, 'pid file', `${JSON.stringify(info)}\n`)
}

/** Removes the pid file if it still names `pid` (a newer server may have replaced it). */
export function removePidFile(file: string, pid: number): void {
  if (readPidFile(file)?.pid === pid) {
    try {
      unlinkSync(file)
    } catch {
      // already gone
    }
  }
}

/** Whether a process with this pid exists here (signal 0 probes without sending anything): no proof of who it is. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * This process's pid namespace (`pid:[inode]`, '' where it cannot be read): a pid means something here only when
 * the process that wrote it shares it.
 */
export function ownPidNamespace(): string {
  try { return readlinkSync('/proc/self/ns/pid') } catch { return '' }
}
