/**
 * Files a launch grants read + execute because running the plugin needs them (its `run` programs, its `#!`
 * interpreter, the libraries the loader maps), each checked to be what it is granted as and pinned by that same check:
 * the pin (canonical path + inode) is taken from ONE resolution of the name (fd-pin.ts: an O_PATH descriptor, its
 * fstat and its kernel name), and what is checked of it (its kind, its ELF bytes) is of that descriptor's inode; the
 * name is never resolved again to decide, so that what the launcher grants is an inode that was a program or a
 * library when it was checked.
 */

import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, statSync } from 'node:fs'
import { readElfDescriptor, readElfFile, type ElfDynamic, type ElfFile } from './elf-dynamic.ts'
import { openPinned, reopenForRead } from './fd-pin.ts'
import { delimiter, dirname, isAbsolute, join } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { pinDrift, type PinnedPath } from '../plugins/path-pin.ts'
import { systemLibraryDirs, type SystemLibraries } from './library-places.ts'
import { Changed, LD_SO, objectIdentity, plainName, refusalDependsOn, resolveLibraries, type ResolvedLibrary } from './library-closure.ts'

/** What a file was checked to be: a program (regular, with an execute bit) or a library (regular). Never a directory. */
export type FileKind = 'program' | 'library'

/** A file pinned as the kind it was checked as. */
export interface PinnedFile extends PinnedPath { kind: FileKind }

/** The engine's own PATH: where `#!/usr/bin/env name` is looked up (never a directory the plugin or a task chose). */
export const ENGINE_PATH = '/usr/local/bin:/usr/bin:/bin'


/**
 * Pins the file `path` names (every symlink followed) when it is a regular file of `kind`: the canonical path and
 * the inode of the one descriptor that reached it (a name moved meanwhile is refused, not pinned). Returns the pin
 * or why not (`is gone`, `is a directory`, …).
 */
export function pinFile(path: string, kind: FileKind): PinnedFile | { problem: string } {
  const c = checkFile(path, kind)
  return 'problem' in c ? c : c.pin
}

const ET_DYN = 3

/**
 * pinFile, and for a library what its ELF says, read from a descriptor checked to be the pinned inode: a "library" is
 * granted only when it is an ELF shared object (ET_DYN), never a key file, a config or a database (review 4: a
 * DT_NEEDED name held a whole line of the loader's listing, naming the key file).
 */
function checkFile(path: string, kind: FileKind): { pin: PinnedFile; elf?: ElfFile } | { problem: string } {
  const res = openPinned(path)
  if (res.kind === 'absent') return { problem: 'is gone' }
  if (res.kind === 'moved') return { problem: 'moved while the engine checked it' }
  if (res.kind === 'error') return { problem: res.problem }
  const { fd, pin: p, st } = res.opened
  try {
    const problem = st.isDirectory() ? 'is a directory' : !st.isFile() ? 'is not a regular file'
      : kind === 'program' && (st.mode & 0o111n) === 0n ? 'is not executable' : undefined
    if (problem) return { problem }
    const pin: PinnedFile = { ...p, kind }
    if (kind !== 'library') return { pin }
    const rfd = reopenForRead(fd)
    if (rfd === undefined) return { problem: 'cannot be read' }
    let elf: ElfFile
    try { elf = readElfDescriptor(rfd, pin) } finally { closeSync(rfd) }
    if ((elf.ok ? elf.elf.type : elf.type) !== ET_DYN) return { problem: 'is not an ELF shared object' }
    return { pin, elf }
  } finally { closeSync(fd) }
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/

const pinned = (p: PinnedFile | { problem: string }): p is PinnedFile => 'path' in p

/** Throws PATH_CHANGED when a pin no longer holds (the name leads elsewhere, through a symlink, or nowhere). */
export function assertPinHolds(pin: PinnedPath, what: string): void {
  const drift = pinDrift(pin)
  if (!drift) return
  throw new AppError(ErrorCode.PathChanged, `${what} ${pin.path} changed since the engine checked it: it ${drift}; refusing to start`,
    { path: pin.path, drift })
}

/**
 * The libraries the loader preloads for every program (`/etc/ld.so.preload`, root's), which it loads first: the
 * plain names in it, when it is a regular file of root's that no one else may write; none otherwise.
 */
function preloaded(path = '/etc/ld.so.preload'): string[] {
  let fd: number
  try { fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK) } catch { return [] }
  try {
    const st = fstatSync(fd)
    if (!st.isFile() || st.uid !== 0 || (st.mode & 0o022) !== 0 || st.size > 65536) return []
    const buf = Buffer.alloc(st.size)
    const n = readSync(fd, buf, 0, st.size, 0)
    return buf.subarray(0, n).toString('latin1').split(/[ \t\n:]+/).filter((e) => e !== '' && plainName(e))
  } catch {
    return []
  } finally {
    closeSync(fd)
  }
}

/** Cached library pins, keyed by the file's identity including its ctime, which its owner cannot set back. */
const libCache = new Map<string, PinnedFile[]>()

/**
 * Refusals for exceeding the closure's work budget (library-closure.ts), by the same key, with the identities of the
 * libraries read before it: a hit whose libraries are all unchanged is refused again at the cost of an lstat each,
 * not listed again (a list that costs the budget at every launch would be the engine's thread spent on each). Bounded.
 */
const refusalCache = new Map<string, { error: AppError; dependsOn: readonly string[] }>()
const CACHE_MAX = 4096

const identity = (path: string): string | undefined => {
  let st
  try { st = lstatSync(path, { bigint: true, throwIfNoEntry: false }) } catch { return undefined }
  return st ? `${path}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : undefined
}

/**
 * How far before the list was started a library must have last changed (its ctime) for what the engine read of it to
 * be one version of it, not one being rewritten: the kernel's ctime clock is coarse (a tick, at most 10 ms); twice
 * that, with room.
 */
const FRESH_MS = 50
/**
 * How long the second list waits after the first found a file fresh: past FRESH_MS by more than the millisecond
 * Date.now() truncates, so that a file last changed just before the first list (a plugin installed, then run at once)
 * is settled for the second one. At exactly FRESH_MS it could still be fresh, and a file that never changed again
 * was refused with PATH_CHANGED.
 */
const RETRY_MS = FRESH_MS + 10

/**
 * Shared libraries an ELF executable (pinned) loads, worked out in the engine from the ELF files themselves
 * (library-closure.ts: DT_NEEDED, RPATH/RUNPATH with $ORIGIN, /etc/ld.so.cache, the loader's default directories, as
 * glibc's ld.so finds them). No program is run on the file, not the loader either: the executable and its libraries
 * are the plugin's bytes. What is granted:
 * - every DT_NEEDED (and filter) name, DT_RUNPATH, DT_RPATH, DT_SONAME and PT_INTERP of the executable and of every
 *   library it loads must be plain, and none may name an audit module; otherwise UNSAFE_EXECUTABLE (nothing granted);
 * - each library is granted only from a place no ELF file's author chooses (library-places.ts): by its canonical
 *   path, a system library directory (the loader's default ones, those of root's /etc/ld.so.cache) or inside
 *   `ownDir`, the plugin's canonical directory (an absolute path of root's /etc/ld.so.preload: anywhere). Any
 *   other: UNSAFE_EXECUTABLE naming it, judged before it is read;
 * - each library is granted only when it is an ELF shared object of the loader's class and machine, pinned (and
 *   read) when the list is made, and unchanged since before the list was started (ctime); the executable unchanged
 *   from before its read to after the list (identity). Either changed: listed once more; changed again, PATH_CHANGED.
 * The loader is always granted. An executable that is not an ELF64 x86-64 file the engine can read, or has no
 * dynamic section (a static program, a script), gets the loader only. Cached by the file's identity (ctime
 * included, with `ownDir` and the ld.so.cache's identity) with the pins, not the names: a hit whose pins all still
 * hold is used as is; otherwise the list is made and checked anew, never a name re-pinned to whatever it leads to by then.
 * A cached library pin is checked by path and inode only: a library rewritten in place keeps the list (Landlock holds
 * what the loader then reads: docs/security.md). A refusal for exceeding the closure's work budget is cached by the
 * same key with the identities of the libraries read before it (refusalCache).
 */
export function sharedLibraries(file: PinnedPath, ownDir: string | undefined): PinnedFile[] {
  return checkedSharedLibraries(file, ownDir).pins
}

/**
 * sharedLibraries, saying whether every pin it returns was verified just now (`verified`: a cache hit, each pin
 * checked with pinDrift on the way out) rather than made during a listing (then the caller checks them: grants.ts
 * pinRules), so that a launch checks each library's pin once, not twice in a row.
 */
export function checkedSharedLibraries(file: PinnedPath, ownDir: string | undefined): { pins: PinnedFile[]; verified: boolean } {
  const sys = systemLibraryDirs()
  const keyOf = (id: string | undefined): string | undefined => id ? `${id}\0${ownDir ?? ''}\0${sys.id}` : undefined
  const key = keyOf(identity(file.path))
  const hit = key ? libCache.get(key) : undefined
  // A cached pin that no longer holds (a library upgraded, or swapped) is never re-pinned by its name: the list is
  // made again, and what it names is checked again.
  if (hit && hit.every((p) => pinDrift(p) === undefined)) return { pins: hit, verified: true }
  const refused = key ? refusalCache.get(key) : undefined
  if (refused && refused.dependsOn.every((id) => objectIdentity(id.slice(0, id.indexOf('\0'))) === id)) throw refused.error
  for (let round = 1; ; round++) {
    let r: ReturnType<typeof listLibraries>
    try { r = listLibraries(file, ownDir, sys) } catch (e) {
      const dependsOn = e instanceof AppError ? refusalDependsOn(e) : undefined
      // Cached only when the executable did not change while it was listed (the refusal is of the version keyed).
      if (key && dependsOn && e instanceof AppError && keyOf(identity(file.path)) === key) {
        if (refusalCache.size >= CACHE_MAX) refusalCache.clear()
        refusalCache.set(key, { error: e, dependsOn })
      }
      throw e
    }
    if (r !== 'changed') {
      const k = keyOf(r.id)
      if (k) { if (libCache.size >= CACHE_MAX) libCache.clear(); libCache.set(k, r.pins) }
      return { pins: r.pins, verified: false }
    }
    if (round === 2) {
      throw new AppError(ErrorCode.PathChanged, `executable ${file.path} or a library it loads changed while the engine listed its libraries; refusing to start`,
        { path: file.path, drift: 'changed while listed' })
    }
    Bun.sleepSync(RETRY_MS)
  }
}

const ELFCLASS64 = 2, EM_X86_64 = 62

/** One list, checked (see sharedLibraries); 'changed' when a file changed meanwhile. `id`: the identity to cache it under. */
function listLibraries(file: PinnedPath, ownDir: string | undefined, sys: SystemLibraries): { pins: PinnedFile[]; id?: string } | 'changed' {
  const key = identity(file.path)
  const loader = pinFile(LD_SO, 'library')
  const base = pinned(loader) ? [loader] : []
  const started = BigInt(Date.now() - FRESH_MS) * 1_000_000n
  const exe = readElfFile(file)
  if (!exe.ok) {
    assertPinHolds(file, 'executable')
    return { pins: base }
  }
  // A static program, or one for another class or machine (not this loader's to load): the loader only.
  const h = exe.elf.header
  if (!exe.elf.dynamic || h.cls !== ELFCLASS64 || h.machine !== EM_X86_64) return { pins: base, ...(key ? { id: key } : {}) }
  let libs: ResolvedLibrary[]
  try {
    libs = resolveLibraries({ exe: file, elf: exe.elf, ownDir, sys, preload: preloaded(), started })
  } catch (e) {
    if (e instanceof Changed) return 'changed'
    throw e
  }
  // The list is of what was read only if the executable did not change meanwhile (its ctime would have moved).
  assertPinHolds(file, 'executable')
  if (identity(file.path) !== key) return 'changed'
  const pins = new Map<string, PinnedFile>(base.map((p) => [p.path, p]))
  for (const l of libs) pins.set(l.pin.path, l.pin)
  return { pins: [...pins.values()], ...(key ? { id: key } : {}) }
}

/**
 * The paths the loader finds the shared libraries of the engine's own program `binary` by (the loader's included:
 * where a Docker image must hold them), resolved as sharedLibraries resolves them, no program run; [] for a static
 * or unreadable one. Throws what sharedLibraries throws.
 */
export function loaderLibraryPaths(binary: string): string[] {
  const pin = pinFile(binary, 'program')
  if (!pinned(pin)) return []
  const exe = readElfFile(pin)
  if (!exe.ok || !exe.elf.dynamic || exe.elf.header.cls !== ELFCLASS64 || exe.elf.header.machine !== EM_X86_64) return []
  for (let round = 1; ; round++) {
    try {
      const started = BigInt(Date.now() - FRESH_MS) * 1_000_000n
      return resolveLibraries({ exe: pin, elf: exe.elf, ownDir: undefined, sys: systemLibraryDirs(), preload: preloaded(), started }).map((l) => l.found)
    } catch (e) {
      if (!(e instanceof Changed) || round === 2) throw e
      Bun.sleepSync(RETRY_MS)
    }
  }
}

/** Resolves a command name through PATH (an absolute path as is); undefined when not found. Not a check: see pinFile. */
export function resolveExecutable(cmd: string, pathVar = process.env.PATH ?? ENGINE_PATH): string | undefined {
  if (cmd.includes('/')) return isAbsolute(cmd) ? cmd : undefined
  for (const d of pathVar.split(delimiter)) {
    try { const p = join(d, cmd); if (statSync(p).isFile()) return p } catch { /* next */ }
  }
  return undefined
}

/**
 * The `run` programs of a grant as this launch grants them: each resolved now (a name through PATH, an absolute entry
 * through whatever stands there now) and pinned by the check that it is still a program: a regular, executable file
 * (a setuid bit gained since is harmless: the plugin runs with no_new_privs, test/escape/setuid.test.ts). A `run`
 * entry swapped since the check for a symlink to `/` or to a directory would otherwise be granted read + execute on
 * that whole tree. Throws PATH_CHANGED; a program that is gone is dropped (nothing to grant; the plugin's exec fails).
 */
export function launchPrograms(run: readonly string[], pathVar?: string): PinnedFile[] {
  const out = new Map<string, PinnedFile>()
  for (const c of run) {
    const p = resolveExecutable(c, pathVar)
    if (!p) continue
    const pin = pinFile(p, 'program')
    if (pinned(pin)) { out.set(pin.path, pin); continue }
    if (pin.problem === 'is gone') continue
    throw new AppError(ErrorCode.PathChanged, `run program ${c} is no longer a program: it resolves to ${p}, which ${pin.problem}; refusing to start`,
      { entry: c, resolved: p, problem: pin.problem })
  }
  return [...out.values()]
}

/**
 * The first line of the pinned file, read from a descriptor checked to be that inode (PATH_CHANGED otherwise); empty
 * for anything but a regular file (a FIFO, a directory: never read, nothing granted from it).
 */
function firstLine(file: PinnedPath): string {
  let fd: number
  try { fd = openSync(file.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK) } catch {
    assertPinHolds(file, 'entry')
    return ''
  }
  try {
    const st = fstatSync(fd, { bigint: true })
    if (String(st.dev) !== file.dev || String(st.ino) !== file.ino) {
      throw new AppError(ErrorCode.PathChanged, `entry ${file.path} changed since the engine checked it: it is another file; refusing to start`,
        { path: file.path, drift: 'is another file' })
    }
    if (!st.isFile()) return ''
    const buf = Buffer.alloc(256)
    let n = 0
    try { n = readSync(fd, buf, 0, 256, 0) } catch { return '' }
    return buf.subarray(0, n).toString('latin1').split('\n')[0] ?? ''
  } finally { closeSync(fd) }
}

/** A command name `env` may look up in PATH: no `/` (an absolute or relative path is the plugin's choice), no option. */
const COMMAND_NAME = /^[A-Za-z0-9_+][A-Za-z0-9._+-]*$/

/** The program `env` runs for a `#!…env ARG` line (the kernel passes ARG as one word; `-S` splits it), or undefined. */
function envCommand(arg: string): string | undefined {
  const words = arg.split(/[ \t]+/).filter(Boolean)
  let i = 0
  if (words[0] === '-S') i = 1
  else if (words[0]?.startsWith('-S')) words[0] = words[0].slice(2)
  // Without -S the kernel's one argument is one word to env: "bash -e" names no program env can find.
  else if (words.length !== 1) return undefined
  // VAR=value assignments before the command (env's own syntax); any other option: not a form the engine grants for.
  while (words[i]?.includes('=') && !words[i]!.startsWith('-')) i++
  const cmd = words[i]
  return cmd && COMMAND_NAME.test(cmd) ? cmd : undefined
}

/**
 * The programs the kernel runs for the pinned entry's `#!` line: the interpreter (an absolute path, pinned as a
 * program: a directory or a non-executable there grants nothing), and, only when that interpreter is the engine's
 * own `env`, the command `env` looks up, found in the engine's fixed PATH (ENGINE_PATH) and pinned as a program. An
 * absolute (or relative) path as `env`'s argument is the plugin's choice and gets nothing, nor does anything after an
 * `env` the plugin ships. The line is read from a descriptor checked to be the pinned entry.
 */
export function shebangInterpreter(entry: PinnedPath): PinnedFile[] {
  const line = firstLine(entry)
  if (!line.startsWith('#!')) return []
  const rest = line.slice(2).replace(/^[ \t]+/, '')
  const sp = rest.search(/[ \t]/)
  const interp = sp < 0 ? rest : rest.slice(0, sp)
  const arg = sp < 0 ? '' : rest.slice(sp).trim()
  if (!isAbsolute(interp) || CONTROL.test(interp)) return []
  const pin = pinFile(interp, 'program')
  if (!pinned(pin)) return []
  const out = [pin]
  const env = resolveExecutable('env', ENGINE_PATH)
  const engineEnv = env ? pinFile(env, 'program') : undefined
  if (engineEnv && pinned(engineEnv) && engineEnv.dev === pin.dev && engineEnv.ino === pin.ino) {
    const cmd = arg ? envCommand(arg) : undefined
    const found = cmd ? resolveExecutable(cmd, ENGINE_PATH) : undefined
    const cmdPin = found ? pinFile(found, 'program') : undefined
    if (cmdPin && pinned(cmdPin)) out.push(cmdPin)
  }
  return out
}
