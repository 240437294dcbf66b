/**
 * A host-wide lock around building one image: an flock(2) on a lock file per tag, so two workers (threads) or
 * two engines (processes) never build the same image at once. The kernel drops the lock when its holder
 * closes the file or dies, so a crashed builder never leaves a stale lock behind.
 */

import { closeSync, constants, lstatSync, mkdirSync, openSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { errno, flock, LOCK } from '../process/launcher/libc.ts'

const EWOULDBLOCK = 11

/** Where the lock files go: root-only under /run for a root engine, else a 0700 dir of the engine's user. */
export function defaultLockDir(): string {
  const uid = process.getuid?.() ?? 0
  return uid === 0 ? '/run/autokestra/locks' : join(process.env.XDG_RUNTIME_DIR || tmpdir(), `autokestra-locks-${uid}`)
}

/** Creates the lock dir if need be; refuses one that is a link, or that another user owns or may write. */
function ensureLockDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const st = lstatSync(dir)
  const uid = process.getuid?.() ?? 0
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new AppError(ErrorCode.SandboxUnavailable,
      `image build lock: ${dir} must be a directory of uid ${uid} that only it can use (mode ${(st.mode & 0o7777).toString(8)}, owner ${st.uid})`)
  }
}

/** How a waiter polls: the lock is tried without blocking (a blocking flock would stall the worker's event loop). */
export interface LockOptions {
  dir?: string
  pollMs?: number
  /** Give up waiting after this long (a build normally takes seconds). */
  timeoutMs?: number
}

/** Runs `fn` while holding the lock named `name` (any string: it is encoded into one file name). */
export async function withHostLock<T>(name: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const dir = opts.dir ?? defaultLockDir()
  ensureLockDir(dir)
  const file = join(dir, `${encodeURIComponent(name)}.lock`)
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600)
  try {
    const deadline = Date.now() + (opts.timeoutMs ?? 10 * 60_000)
    while (flock(fd, LOCK.EX | LOCK.NB) !== 0) {
      const e = errno()
      if (e !== EWOULDBLOCK) throw new AppError(ErrorCode.SandboxUnavailable, `image build lock ${file}: flock failed (errno ${e})`)
      if (Date.now() > deadline) throw new AppError(ErrorCode.SandboxUnavailable, `image build lock ${file}: still held by another build after ${opts.timeoutMs ?? 600_000} ms`, undefined, true)
      await Bun.sleep(opts.pollMs ?? 100)
    }
    return await fn()
  } finally {
    closeSync(fd) // drops the lock
  }
}
