/**
 * Files only the engine's own user may touch: private directories (0700) and files (0600), created with that mode
 * whatever the umask, owner-checked (a file or directory another user owns is refused: they could have planted or
 * can still change it), and modes of existing ones narrowed at open with a warning.
 */
import { chmodSync, closeSync, constants, fchmodSync, fstatSync, mkdirSync, openSync, statSync, writeSync, type Stats } from 'node:fs'
import { AppError, ErrorCode } from './errors.ts'

/** Where a narrowed mode is reported (the server's logger; stderr by default). */
export type WarnFn = (message: string) => void

export const warnOnStderr: WarnFn = (m) => { process.stderr.write(`WARN ${m}\n`) }

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0')

/** The uid the engine runs as (undefined where the platform has none: then owners are not checked). */
export const engineUid = (): number | undefined => process.geteuid?.()

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new AppError(ErrorCode.InvalidConfig, `cannot inspect ${path}: ${(e as Error).message}`, { path })
  }
}

function refuseForeignOwner(what: string, path: string, st: Stats, fix: string): void {
  const uid = engineUid()
  if (uid === undefined || st.uid === uid) return
  throw new AppError(ErrorCode.InvalidConfig,
    `${what} ${path} is owned by uid ${st.uid}, but the engine runs as uid ${uid}: another user controls it, so it is ` +
    `refused. ${fix}`, { path, owner: st.uid, uid })
}

/**
 * Makes `dir` a private directory: created 0700 when missing; refused when another user owns it or when it is a
 * shared, world-writable directory such as /tmp (others can create files in it); narrowed to 0700 (with a
 * warning) when group or others had access.
 */
export function ensurePrivateDir(dir: string, what = 'data directory', warn: WarnFn = warnOnStderr): void {
  const st = statOrUndefined(dir)
  if (!st) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    chmodSync(dir, 0o700) // mkdir's mode is filtered by the umask
    return
  }
  if (!st.isDirectory()) throw new AppError(ErrorCode.InvalidConfig, `${what} ${dir} is not a directory`, { path: dir })
  refuseForeignOwner(what, dir, st, `Run the engine as that user, or give it the directory: chown ${engineUid()} ${dir}`)
  if ((st.mode & 0o002) !== 0) {
    throw new AppError(ErrorCode.InvalidConfig,
      `${what} ${dir} is writable by every user (mode ${octal(st.mode)}): anyone could plant files in it. Use a ` +
      'private directory (e.g. storage.path: /var/lib/autokestra/state.db), not a shared one such as /tmp', { path: dir, mode: octal(st.mode) })
  }
  if ((st.mode & 0o077) !== 0) {
    chmodSync(dir, 0o700)
    warn(`${what} ${dir} was open to other users (mode ${octal(st.mode)}); set to 0700`)
  }
}

/**
 * Checks an existing file that must be private: refused when it is not a regular file or another user owns it;
 * narrowed to 0600 (with a warning) when group or others had access. A missing file is fine.
 */
export function securePrivateFile(file: string, what: string, warn: WarnFn = warnOnStderr): void {
  const st = statOrUndefined(file)
  if (!st) return
  if (!st.isFile()) throw new AppError(ErrorCode.InvalidConfig, `${what} ${file} is not a regular file`, { path: file })
  refuseForeignOwner(what, file, st, `If you trust it: chown ${engineUid()} ${file}; otherwise remove it`)
  if ((st.mode & 0o077) !== 0) {
    chmodSync(file, 0o600)
    warn(`${what} ${file} was open to other users (mode ${octal(st.mode)}); set to 0600`)
  }
}

const OPEN_PRIVATE = constants.O_CREAT | constants.O_WRONLY | constants.O_NOFOLLOW

/**
 * Opens (creating when missing) a private file for writing, mode 0600 whatever the umask; refused when another
 * user owns it. `append` keeps its content, otherwise it is truncated. Returns the descriptor.
 */
export function openPrivateFile(file: string, what: string, opts: { append?: boolean } = {}): number {
  let fd: number
  try {
    fd = openSync(file, OPEN_PRIVATE | (opts.append ? constants.O_APPEND : constants.O_TRUNC), 0o600)
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ELOOP' ? 'it is a symbolic link' : (e as Error).message
    throw new AppError(ErrorCode.InvalidConfig, `cannot open ${what} ${file}: ${why}`, { path: file })
  }
  try {
    refuseForeignOwner(what, file, fstatSync(fd), `If you trust it: chown ${engineUid()} ${file}; otherwise remove it`)
    fchmodSync(fd, 0o600)
    return fd
  } catch (e) {
    closeSync(fd)
    throw e
  }
}

/** Writes a whole private file (0600, owner-checked), replacing its content. */
export function writePrivateFile(file: string, what: string, data: string): void {
  const fd = openPrivateFile(file, what)
  try {
    writeSync(fd, data)
  } finally {
    closeSync(fd)
  }
}
