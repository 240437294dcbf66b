/**
 * An exclusive flock(2) on a private lock file, held as long as its descriptor stays open (Bun has no flock API,
 * so it goes through bun:ffi, as the sandbox's uid leases do). The kernel drops it when the process dies, kill -9
 * included, so a lock never outlives its holder and needs no staleness check.
 */
import { dlopen, FFIType, read } from 'bun:ffi'
import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs'
import { AppError, ErrorCode } from './errors.ts'
import { engineUid } from './private-files.ts'

const LOCK_EX = 2
const LOCK_NB = 4
const EWOULDBLOCK = 11

// Loaded on first use: a process that never locks (the CLI's HTTP commands) never opens libc through FFI.
let libc: { flock(fd: number, op: number): number; errno(): number } | undefined
function lib(): NonNullable<typeof libc> {
  if (libc) return libc
  const l = dlopen('libc.so.6', {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  })
  return (libc = {
    flock: (fd, op) => l.symbols.flock(fd, op),
    errno: () => { const p = l.symbols.__errno_location(); return p === null ? 0 : read.i32(p, 0) },
  })
}

/** A held lock. */
export interface FileLock {
  readonly file: string
  /** Replaces what the lock file says (who holds it); only the holder writes it. */
  describe(info: string): void
  /** Closes the descriptor, which drops the lock; the file stays (unlinking a lock file races with its next taker). */
  release(): void
}

/**
 * Opens `file` (created 0600 when missing; never through a symbolic link; refused when it is not a regular file
 * or another user owns it) and takes an exclusive flock without waiting. Returns undefined when another open
 * file description holds it — another process, or another `tryLockFile` of the same file in this one. The
 * descriptor is close-on-exec, so no child process inherits (and keeps) the lock.
 */
export function tryLockFile(file: string, what: string): FileLock | undefined {
  let fd: number
  try {
    fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600)
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ELOOP' ? 'it is a symbolic link' : (e as Error).message
    throw new AppError(ErrorCode.InvalidConfig, `cannot open ${what} ${file}: ${why}`, { path: file })
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new AppError(ErrorCode.InvalidConfig, `${what} ${file} is not a regular file`, { path: file })
    const uid = engineUid()
    if (uid !== undefined && st.uid !== uid) {
      throw new AppError(ErrorCode.InvalidConfig, `${what} ${file} is owned by uid ${st.uid}, but the engine runs as uid ` +
        `${uid}: another user controls it, so it is refused. If you trust it: chown ${uid} ${file}; otherwise remove it`,
      { path: file, owner: st.uid, uid })
    }
    if ((st.mode & 0o077) !== 0) fchmodSync(fd, 0o600)
    if (lib().flock(fd, LOCK_EX | LOCK_NB) !== 0) {
      const e = lib().errno()
      if (e !== EWOULDBLOCK) throw new AppError(ErrorCode.Internal, `cannot lock ${what} ${file}: flock failed with errno ${e}`, { path: file, errno: e })
      closeSync(fd)
      return undefined
    }
  } catch (e) {
    closeSync(fd)
    throw e
  }
  let held = true
  return {
    file,
    describe(info: string) {
      if (!held) return
      ftruncateSync(fd, 0)
      writeSync(fd, info, 0)
    },
    release() {
      if (!held) return
      held = false
      closeSync(fd)
    },
  }
}

/** What a probe found at a lock file: see `probeLockFile`. */
export type LockProbe =
  | { state: 'missing' }
  /** Not a regular file, a symbolic link, or another user's: it proves nothing. */
  | { state: 'refused' }
  /** Another open file description holds it: its holder lives. */
  | { state: 'held' }
  /** Nobody held it; the probe does now, with what the file says (its last holder wrote it), until `release`. */
  | { state: 'free'; content: string; release(): void }

/** How much of a lock file a probe reads (a holder writes one short JSON line). */
const PROBE_READ_BYTES = 4096

/**
 * Looks at someone else's lock file without creating it: opened read-only, never through a symbolic link, without
 * blocking (a FIFO planted there does not stall the probe), checked to be a regular file this user owns, then
 * try-locked. A free lock stays held by the probe until released, so whatever the caller removes meanwhile cannot
 * race a new holder of the same file.
 */
export function probeLockFile(file: string): LockProbe {
  let fd: number
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? { state: 'missing' } : { state: 'refused' }
  }
  let keep = false
  try {
    const st = fstatSync(fd)
    const uid = engineUid()
    if (!st.isFile() || (uid !== undefined && st.uid !== uid)) return { state: 'refused' }
    if (lib().flock(fd, LOCK_EX | LOCK_NB) !== 0) return lib().errno() === EWOULDBLOCK ? { state: 'held' } : { state: 'refused' }
    const buf = Buffer.alloc(PROBE_READ_BYTES)
    const content = buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0))
    keep = true
    let held = true
    return { state: 'free', content, release: () => { if (held) { held = false; closeSync(fd) } } }
  } catch {
    return { state: 'refused' }
  } finally {
    if (!keep) closeSync(fd)
  }
}
