/**
 * Engine-owned directories of one process runner: a root `<tmpRoot>/ak-w-XXXXXX` (mode 0711, so a plugin
 * can reach its own temp dir but can neither list, rename nor replace anything in it), holding an empty start
 * directory every sandboxed process starts in, one 0700 temp dir per attempt, and a lock that says the runner
 * lives. Attempt ids are `e<instance>-<random>` (engine-instance.ts): unique per host, and naming the engine instance
 * whose liveness lock tells any other engine, in any pid namespace, whether their cgroups may be swept.
 */

import { chmodSync, closeSync, constants, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { threadId } from 'node:worker_threads'
import { dirname, join, resolve } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { flock, LOCK } from './launcher/libc.ts'
import { isAttemptName, startEngineInstance, type EngineInstance } from './engine-instance.ts'

/** The runner's directories. */
export interface Workspace {
  root: string
  /** The engine instance whose attempts these are (given to createWorkspace, or made and released by it). */
  instance: EngineInstance
  /**
   * Empty and unwritable: the working directory of launchers and Bun plugins until confined (nothing to read in it).
   * For a root engine `/run/autokestra/start`, whose every ancestor only root can write: Bun looks for files from its
   * working directory upwards, and /tmp (above the workspace) is anyone's.
   */
  startDir: string
  /** A fresh attempt: a globally unique id (also its cgroup name) and its private temp dir (0700, engine-owned until chowned). */
  newAttempt(): { id: string; tmpDir: string }
  /** Removes everything (the runner is closing, or the process exits). */
  remove(): void
}

const LOCK_FILE = '.alive'
/** Names the worker thread whose runner owns the workspace: a crashed worker's attempts are found by it (worker-sweep.ts). */
const THREAD_FILE = '.thread'
/** A workspace root: `ak-w-…`, or `ak-p<pid>-…` as engines before instances made them (judged by its lock too). */
const ROOT_PATTERN = /^ak-(w|p\d+)-/
/** A workspace being made: not a root any sweep judges by its lock (it has none yet), only by its age. */
const MAKING = 'ak-n-'
/** A `ak-n-` directory older than this is a runner that died while making its workspace. */
const MAKING_STALE_MS = 60_000

/**
 * Makes a workspace root whose lock is held before its name is one a sweep looks at: made as `ak-n-XXXXXX`, its
 * `.alive` created and flocked (the answer checked), its `.thread` written, then renamed to `ak-w-XXXXXX`. Made
 * as `ak-w-` directly, a concurrent runner's sweep could find the lock free in the instant between the file and the
 * flock, and remove a live workspace (review 5).
 */
function lockedRoot(tmpRoot: string): { root: string; lockFd: number } {
  for (let tries = 0; ; tries++) {
    const making = mkdtempSync(join(tmpRoot, MAKING))
    chmodSync(making, 0o711)
    const lockFd = openSync(join(making, LOCK_FILE), constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600)
    if (flock(lockFd, LOCK.EX | LOCK.NB) !== 0) {
      closeSync(lockFd)
      rmSync(making, { recursive: true, force: true })
      throw new AppError(ErrorCode.SandboxUnavailable, `cannot lock the new sandbox workspace ${making}`)
    }
    writeFileSync(join(making, THREAD_FILE), String(threadId), { mode: 0o600, flag: 'wx' })
    const root = join(tmpRoot, `ak-w-${making.slice(join(tmpRoot, MAKING).length)}`)
    // rename(2) replaces an empty directory of that name (anyone's), never a non-empty one: then another suffix.
    try {
      renameSync(making, root)
      return { root, lockFd }
    } catch (e) {
      closeSync(lockFd)
      rmSync(making, { recursive: true, force: true })
      if (tries >= 3) throw new AppError(ErrorCode.SandboxUnavailable, `cannot make a sandbox workspace under ${tmpRoot}: ${(e as Error).message}`)
    }
  }
}

/**
 * Creates the runner's workspace under `tmpRoot`, first removing those of runners that died without cleaning up.
 * For a root engine every directory above it must be searchable by others: the attempts' uids have to reach their
 * temp dirs through it.
 */
export function createWorkspace(tmpRoot: string, given?: EngineInstance): Workspace {
  if (process.getuid?.() === 0) {
    for (let p = resolve(tmpRoot); ; p = dirname(p)) {
      if ((statSync(p).mode & 0o001) === 0) {
        throw new AppError(ErrorCode.SandboxUnavailable,
          `the sandbox temp root ${tmpRoot} is not reachable for sandbox uids: ${p} is not searchable by others (chmod o+x ${p})`)
      }
      if (p === '/') break
    }
  }
  sweepStaleWorkspaces(tmpRoot)
  const { root, lockFd } = lockedRoot(tmpRoot)
  const startDir = rootStartDir() ?? join(root, 'start')
  if (startDir.startsWith(root)) {
    mkdirSync(startDir)
    chmodSync(startDir, 0o555)
  }
  const instance = given ?? startEngineInstance()
  let removed = false
  return {
    root,
    instance,
    startDir,
    newAttempt() {
      const id = instance.newAttemptId()
      const tmpDir = join(root, id)
      mkdirSync(tmpDir, { mode: 0o700 })
      return { id, tmpDir }
    },
    remove() {
      if (removed) return
      removed = true
      rmSync(root, { recursive: true, force: true })
      try { closeSync(lockFd) } catch { /* already closed */ }
      // Ours to end only when we made it; whether cgroups of it are left is not known here, so its file stays.
      if (!given) instance.release(true)
    },
  }
}

const ROOT_START = '/run/autokestra/start'

/** `/run/autokestra/start` for a root engine, when it and every ancestor are root's alone; else undefined. */
function rootStartDir(): string | undefined {
  if (process.getuid?.() !== 0) return undefined
  try {
    mkdirSync(ROOT_START, { recursive: true, mode: 0o711 })
    chmodSync(dirname(ROOT_START), 0o711) // searchable by the sandbox uids (uids.ts keeps its own subdirectory 0700)
    chmodSync(ROOT_START, 0o555)
    for (let p = ROOT_START; ; p = p.slice(0, p.lastIndexOf('/')) || '/') {
      const st = lstatSync(p)
      if (st.isSymbolicLink() || st.uid !== 0 || (st.mode & 0o022) !== 0) return undefined
      if (p === '/') break
    }
    return readdirSync(ROOT_START).length === 0 ? ROOT_START : undefined
  } catch {
    return undefined
  }
}

/**
 * This process's workspaces whose runner lives in worker thread `thread`, with the ids of the attempts they hold. A
 * workspace is this process's when one of its open descriptors is the workspace's lock (a dead thread's stays open:
 * descriptors belong to the process), never by a pid in its name, which an engine in another pid namespace sharing
 * `tmpRoot` may have too; thread ids repeat across processes, so `.thread` alone says nothing either.
 */
export function workspacesOfThread(tmpRoot: string, thread: number): { root: string; attempts: string[] }[] {
  let names: string[] = []
  try { names = readdirSync(tmpRoot) } catch { return [] }
  const open = openFiles()
  return names.filter((n) => ROOT_PATTERN.test(n)).flatMap((name) => {
    const root = join(tmpRoot, name)
    try {
      if (lstatSync(root).uid !== (process.getuid?.() ?? 0) || readFileSync(join(root, THREAD_FILE), 'utf8') !== String(thread)) return []
      const lock = lstatSync(join(root, LOCK_FILE))
      if (!lock.isFile() || !open.has(`${lock.dev}:${lock.ino}`)) return []
      return [{ root, attempts: readdirSync(root).filter(isAttemptName) }]
    } catch { return [] }
  })
}

/**
 * The files this process has open for writing (`dev:ino`, of every thread: descriptors are the process's). A runner
 * opens its lock read-write; a sweep looking at another runner's lock opens it read-only, so a lock this process only
 * probes at that instant (in another thread) is not taken for its own.
 */
function openFiles(): Set<string> {
  const out = new Set<string>()
  let fds: string[] = []
  try { fds = readdirSync('/proc/self/fd') } catch { return out }
  for (const fd of fds) {
    try {
      const flags = Number.parseInt(/^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0', 8)
      if ((flags & 3) !== constants.O_RDWR) continue
      const st = statSync(`/proc/self/fd/${fd}`)
      out.add(`${st.dev}:${st.ino}`)
    } catch { /* closed meanwhile */ }
  }
  return out
}

/**
 * Removes workspaces whose runner is gone: their lock can be taken (the kernel dropped it when the holder died;
 * this works across pid namespaces, unlike a pid check). Only directories we own are considered, never a symlink.
 */
export function sweepStaleWorkspaces(tmpRoot: string): number {
  const me = process.getuid?.() ?? 0
  let removed = 0
  let names: string[] = []
  try { names = readdirSync(tmpRoot) } catch { return 0 }
  for (const name of names) {
    const dir = join(tmpRoot, name)
    const making = name.startsWith(MAKING)
    if (!ROOT_PATTERN.test(name) && !making) continue
    try {
      const st = lstatSync(dir)
      if (!st.isDirectory() || st.uid !== me) continue
      // One being made is never judged by its lock (taken a moment after the file exists), only by its age.
      if (making) {
        if (Date.now() - st.mtimeMs > MAKING_STALE_MS && lockFree(join(dir, LOCK_FILE))) {
          rmSync(dir, { recursive: true, force: true })
          removed++
        }
        continue
      }
    } catch { continue }
    if (lockFree(join(dir, LOCK_FILE))) {
      rmSync(dir, { recursive: true, force: true })
      removed++
    }
  }
  return removed
}

function lockFree(file: string): boolean {
  let fd: number
  // No lock file yet: a runner that is starting right now, or one that died while starting. Its pid cannot tell
  // (in another pid namespace it is invisible here, or another process's): kept, at worst an empty dir.
  // Read-only (flock needs no more): workspacesOfThread tells a runner's own lock by its read-write descriptor.
  try { fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK) } catch { return false }
  try { return flock(fd, LOCK.EX | LOCK.NB) === 0 } finally { closeSync(fd) }
}
