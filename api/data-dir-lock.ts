/**
 * One server process per data dir: an exclusive lock on `<data dir>/autokestra.lock`, taken before the store
 * opens and held until the server stops (or dies), which says who holds it. The pid file is only information.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { AppError, ErrorCode } from '../runtime/errors.ts'
import { tryLockFile, type FileLock } from '../runtime/file-lock.ts'
import { isAlive, ownPidNamespace } from './pidfile.ts'

/** What the lock file says about its holder (written by the holder: its pid at once, its URL once it listens). */
export interface LockHolder {
  pid: number
  startedAt: number
  url?: string
  /** The holder's pid namespace (`pid:[inode]`): `pid` names the server only from a process that shares it. */
  pidNs?: string
}

/** The data dir lock of one server; `release` returns true when it was the process's last server on the dir. */
export interface DataDirLock {
  readonly file: string
  /** Records the URL the server listens on, for the message another start gets. */
  listening(url: string): void
  release(): boolean
}

export const lockFileOf = (dataDir: string): string => join(dataDir, 'autokestra.lock')

/**
 * Servers started in this process, by lock file. An flock is per open file description, so a second open in the
 * same process would conflict with the first: servers one process starts (the embedding API allows several, the
 * CLI starts one) share its lock, as they share its pid, its pid file and its `server stop`.
 */
const heldHere = new Map<string, { lock: FileLock; holder: LockHolder; count: number }>()

/**
 * Takes the data dir's lock for a server, or throws CONFLICT naming the server that holds it (pid, and URL once
 * it listens). The data dir must exist and be private (`ensurePrivateDir`).
 */
export function lockDataDir(dataDir: string, now = Date.now()): DataDirLock {
  const file = lockFileOf(dataDir)
  let entry = heldHere.get(file)
  if (entry) entry.count++
  else {
    const lock = tryLockFile(file, 'server lock file')
    if (!lock) throw conflict(file, readHolder(file))
    const pidNs = ownPidNamespace()
    entry = { lock, holder: { pid: process.pid, startedAt: now, ...(pidNs ? { pidNs } : {}) }, count: 1 }
    heldHere.set(file, entry)
    lock.describe(`${JSON.stringify(entry.holder)}\n`)
  }
  const e = entry
  let released = false
  return {
    file,
    listening(url) {
      if (released || e.holder.url !== undefined) return
      e.holder.url = url
      e.lock.describe(`${JSON.stringify(e.holder)}\n`)
    },
    release() {
      if (released) return false
      released = true
      if (--e.count > 0) return false
      heldHere.delete(file)
      e.lock.release()
      return true
    },
  }
}

/**
 * Who holds the data dir's lock, without keeping it: undefined when nobody does. Checks by taking and dropping the
 * lock; a server starting in that instant may be refused and should be retried. So the lock is not taken when the
 * holder is provably gone without it: it wrote our pid namespace and its pid names no process in it (a stale file,
 * the common case after a crash). A pid from another pid namespace (or none) proves nothing: the lock decides.
 */
export function dataDirHolder(dataDir: string): LockHolder | undefined {
  const file = lockFileOf(dataDir)
  if (heldHere.has(file)) return heldHere.get(file)!.holder
  const holder = readHolder(file)
  if (!holder) return undefined
  const pidNs = ownPidNamespace()
  if (pidNs !== '' && holder.pidNs === pidNs && !isAlive(holder.pid)) return undefined
  const probe = tryLockFile(file, 'server lock file')
  if (!probe) return holder
  probe.release()
  return undefined
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>
    return typeof v.pid === 'number' && typeof v.startedAt === 'number' ? (v as LockHolder) : undefined
  } catch {
    return undefined // missing, or being rewritten by its holder this instant
  }
}

function conflict(file: string, holder: LockHolder | undefined): AppError {
  const who = !holder ? 'another server holds this data dir'
    : holder.url ? `another server is running on this data dir (pid ${holder.pid}, ${holder.url})`
    : `another server is starting on this data dir (pid ${holder.pid})`
  return new AppError(ErrorCode.Conflict, `${who}: one data dir serves one server. Stop it with: workflow server stop ` +
    '(or give this server its own storage.path); `workflow run` may still share the data dir', {
    lockFile: file, ...(holder ? { pid: holder.pid, ...(holder.url ? { url: holder.url } : {}) } : {}),
  })
}
