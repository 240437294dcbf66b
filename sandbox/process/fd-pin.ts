/**
 * A file pinned by ONE resolution of its name (review 7): the name is opened once, O_PATH (every symlink followed, as
 * the loader and exec follow them, and no open of the file itself: a FIFO or a device is never waited on or woken),
 * and both halves of the pin come from that descriptor: the inode from fstat, the canonical path from the kernel's own
 * name of it (/proc/self/fd/N). Whatever is judged of the pin (where it lies, what kind of file it is, its ELF bytes,
 * read through the same descriptor) is of that one inode; the name is never resolved again to decide anything. The
 * one later look at the name (pinDrift) only refuses a pin whose path no longer leads to its inode (moved, deleted,
 * swapped meanwhile): a check that the pin is consistent, never a second source of what is granted.
 *
 * Errors the loader takes as "not here" (ENOENT, ENOTDIR, ELOOP, EACCES, ENAMETOOLONG) are 'absent'; anything else is
 * a problem with a stable message (never node's raw errno).
 */

import { closeSync, constants, fstatSync, openSync, readlinkSync, type BigIntStats } from 'node:fs'
import { pinDrift, type PinnedPath } from '../plugins/path-pin.ts'

/** open(2)'s O_PATH on Linux (not in node's constants). */
const O_PATH = 0o10000000
/** O_CLOEXEC on Linux (Bun's constants lack it). */
const O_CLOEXEC = 0o2000000

/** The errnos the loader (and exec's PATH search) take as "nothing here": it searches on. */
export const NOT_HERE: ReadonlySet<string> = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'EACCES', 'ENAMETOOLONG'])

/** Whether `e` is a filesystem error meaning "not here" (see NOT_HERE). */
export const notHere = (e: unknown): boolean => NOT_HERE.has((e as NodeJS.ErrnoException | undefined)?.code ?? '')

/** The errno of `e` for a stable message ('error' when it has none). */
export const errnoOf = (e: unknown): string => {
  const c = (e as NodeJS.ErrnoException | undefined)?.code
  return typeof c === 'string' && /^E[A-Z0-9]+$/.test(c) ? c : 'error'
}

/** A name opened and pinned: the O_PATH descriptor (the caller closes it), the pin, and the descriptor's fstat. */
export interface Opened { fd: number; pin: PinnedPath; st: BigIntStats }

export type OpenResult =
  | { kind: 'opened'; opened: Opened }
  /** Nothing there the loader could open (it searches on). */
  | { kind: 'absent' }
  /** The name led to an inode whose path moved or went while it was pinned: look again later. */
  | { kind: 'moved' }
  /** Something the engine cannot examine: a stable description (never a raw errno object). */
  | { kind: 'error'; problem: string }

/**
 * Opens `path` O_PATH and pins what it reached (see the module's comment). A non-regular file is returned too (the
 * caller judges `st`); the canonical path is the kernel's name of the descriptor, checked to lead back to its inode.
 */
export function openPinned(path: string): OpenResult {
  let fd: number
  try { fd = openSync(path, O_PATH | O_CLOEXEC) } catch (e) {
    return notHere(e) ? { kind: 'absent' } : { kind: 'error', problem: `cannot be looked up (${errnoOf(e)})` }
  }
  try {
    const st = fstatSync(fd, { bigint: true })
    let real: string
    try { real = readlinkSync(`/proc/self/fd/${fd}`) } catch (e) {
      closeSync(fd)
      return { kind: 'error', problem: `cannot be named through /proc/self/fd (${errnoOf(e)})` }
    }
    const pin: PinnedPath = { path: real, dev: String(st.dev), ino: String(st.ino) }
    // A deleted file is named "… (deleted)", one reached outside the engine's root not absolutely: neither leads back.
    let drift: string | undefined = 'cannot be resolved'
    try { drift = real.startsWith('/') ? pinDrift(pin) : 'is not a path' } catch { /* drift */ }
    if (drift !== undefined) { closeSync(fd); return { kind: 'moved' } }
    return { kind: 'opened', opened: { fd, pin, st } }
  } catch (e) {
    try { closeSync(fd) } catch { /* closed */ }
    return { kind: 'error', problem: `cannot be examined (${errnoOf(e)})` }
  }
}

/**
 * A readable descriptor of the very inode an O_PATH descriptor holds (reopened through /proc/self/fd, never by name),
 * without blocking; only for a regular file (the caller checked `st`). Undefined when it cannot be opened for reading.
 */
export function reopenForRead(fd: number): number | undefined {
  try {
    return openSync(`/proc/self/fd/${fd}`, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | O_CLOEXEC)
  } catch {
    return undefined
  }
}
