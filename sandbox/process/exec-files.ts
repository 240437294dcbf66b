/**
 * Files a launch grants read + execute because running the plugin needs them (its `run` programs, its `#!`
 * interpreter, the libraries the loader maps), each checked to be what it is granted as and pinned by that same check:
 * the pin (canonical path + inode) is taken from the one lstat that saw a regular file, never by resolving the name
 * again later, so that what the launcher grants is an inode that was a program or a library when it was checked.
 */

import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs'
import { readElfFile, type ElfDynamic, type ElfFile } from './elf-dynamic.ts'
import { delimiter, dirname, isAbsolute, join } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { pinDrift, type PinnedPath } from '../plugins/path-pin.ts'
import { libraryPlaceProblem, systemLibraryDirs } from './library-places.ts'

/** What a file was checked to be: a program (regular, with an execute bit) or a library (regular). Never a directory. */
export type FileKind = 'program' | 'library'

/** A file pinned as the kind it was checked as. */
export interface PinnedFile extends PinnedPath { kind: FileKind }

/** The engine's own PATH: where `#!/usr/bin/env name` is looked up (never a directory the plugin or a task chose). */
export const ENGINE_PATH = '/usr/local/bin:/usr/bin:/bin'

const LD_SO = '/lib64/ld-linux-x86-64.so.2'

/**
 * Pins the file `path` names (every symlink followed) when it is a regular file of `kind`: the canonical path and
 * the inode of one lstat that saw it (a symlink or a directory swapped in between is refused, not pinned). Returns
 * the pin or why not (`is gone`, `is a directory`, …).
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
function checkFile(path: string, kind: FileKind, place?: (real: string) => void): { pin: PinnedFile; elf?: ElfFile } | { problem: string } {
  let real: string
  try { real = realpathSync.native(path) } catch { return { problem: 'is gone' } }
  const st = lstatSync(real, { bigint: true, throwIfNoEntry: false })
  const problem = !st ? 'is gone' : st.isDirectory() ? 'is a directory' : st.isSymbolicLink() ? 'was swapped for a symbolic link'
    : !st.isFile() ? 'is not a regular file' : kind === 'program' && (st.mode & 0o111n) === 0n ? 'is not executable' : undefined
  if (problem || !st) return { problem: problem ?? 'is gone' }
  const pin: PinnedFile = { path: real, dev: String(st.dev), ino: String(st.ino), kind }
  if (kind !== 'library') return { pin }
  // Judged where the name leads, before a byte of it is read.
  place?.(real)
  const elf = readElfFile(pin)
  if ((elf.ok ? elf.elf.type : elf.type) !== ET_DYN) return { problem: 'is not an ELF shared object' }
  return { pin, elf }
}

const pinned = (p: PinnedFile | { problem: string }): p is PinnedFile => 'path' in p

/** Throws PATH_CHANGED when a pin no longer holds (the name leads elsewhere, through a symlink, or nowhere). */
export function assertPinHolds(pin: PinnedPath, what: string): void {
  const drift = pinDrift(pin)
  if (!drift) return
  throw new AppError(ErrorCode.PathChanged, `${what} ${pin.path} changed since the engine checked it: it ${drift}; refusing to start`,
    { path: pin.path, drift })
}

/**
 * Who inspects executables for a root engine: the file may be the plugin's own (an exec entry, a `run` path in its
 * directory), so the loader that maps it and its libraries runs as nobody, without capabilities or new privileges,
 * in an empty network namespace, never as root.
 */
function unprivileged(argv: string[]): string[] {
  if (process.getuid?.() !== 0) return argv
  return ['unshare', '-n', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all',
    '--no-new-privs', '--', ...argv]
}

/**
 * The lines of `ld.so --list`, in the exact shapes it prints them: "\tname => /path (0xaddr)", "\t/path (0xaddr)" and
 * the vDSO's "\tname (0xaddr)". No path with a space or a control character. Which of them are taken is decided by
 * sharedLibraries from the ELF files themselves; this only says what a line says.
 */
const MAPPED_LINE = /^\t([^\s]+) => (\/[^\s]+) \(0x[0-9a-f]+\)$/
const DIRECT_LINE = /^\t(\/[^\s]+) \(0x[0-9a-f]+\)$/
const VDSO_LINE = /^\t[A-Za-z0-9._+-]+ \(0x[0-9a-f]+\)$/
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/

/** One line of the listing, as it reads. */
type ListedLine = { kind: 'mapped'; name: string; path: string } | { kind: 'direct'; path: string } | { kind: 'vdso' }

function listedLine(l: string): ListedLine | undefined {
  let m = MAPPED_LINE.exec(l)
  if (m && !CONTROL.test(l.slice(1))) return { kind: 'mapped', name: m[1]!, path: m[2]! }
  m = DIRECT_LINE.exec(l)
  if (m && !CONTROL.test(m[1]!)) return { kind: 'direct', path: m[1]! }
  return VDSO_LINE.test(l) ? { kind: 'vdso' } : undefined
}

/** The library paths of `ld.so --list` output, by shape alone (what a line says, not whether it is true). For tests. */
export function parseLdsoList(out: string): string[] {
  return out.split('\n').flatMap((l) => {
    const m = listedLine(l)
    return m && m.kind !== 'vdso' ? [m.path] : []
  })
}

/**
 * A name the loader is asked for (DT_NEEDED, a filter) or a search path component, taken as plain: letters, digits,
 * `. _ + @ - /` and the loader's own tokens ($ORIGIN, $LIB, $PLATFORM, braced or not). No whitespace, no control
 * character, no `=`: nothing that can end a line of the listing or start one.
 */
const PLAIN = /^[A-Za-z0-9._+@/-]+$/
const DST = /\$(?:ORIGIN|LIB|PLATFORM)\b|\$\{(?:ORIGIN|LIB|PLATFORM)\}/g
const plainName = (s: string): boolean => PLAIN.test(s.replace(DST, 'x'))
const plainSearchPath = (s: string): boolean => s.split(':').every((d) => d === '' || plainName(d))
/** A path the loader prints as it is (the executable's, from which $ORIGIN is made). */
const plainPath = (s: string): boolean => !/\s/.test(s) && !CONTROL.test(s)
const show = (s: string): string => JSON.stringify(s.length > 160 ? `${s.slice(0, 160)}…` : s)

function unsafe(file: PinnedPath, why: string, details: Record<string, unknown>): never {
  throw new AppError(ErrorCode.UnsafeExecutable,
    `executable ${file.path}: ${why}. The loader's listing of its libraries is then text its author shapes, which could ` +
    'name any library on the host; nothing of it is granted, refusing to start', { executable: file.path, ...details })
}

/** Refuses (UNSAFE_EXECUTABLE) an object of the closure whose library names, search paths or interpreter are not plain. */
function assertPlain(file: PinnedPath, object: string, elf: ElfDynamic): void {
  const bad = (field: string, value: string) => unsafe(file, `${object === file.path ? 'it has a' : `the library ${object} it loads has a`} ${field} ${show(value)} that is not plain (letters, digits, . _ + @ - /, $ORIGIN, $LIB, $PLATFORM)`,
    { object, field, value: value.slice(0, 160) })
  for (const n of elf.needed) if (!plainName(n)) bad('DT_NEEDED name', n)
  for (const r of elf.runpath) if (!plainSearchPath(r)) bad('DT_RUNPATH', r)
  for (const r of elf.rpath) if (!plainSearchPath(r)) bad('DT_RPATH', r)
  if (elf.interp !== undefined && !PLAIN.test(elf.interp)) bad('PT_INTERP', elf.interp)
  // An audit module is code the loader runs while it only lists, before any confinement: never listed at all.
  for (const a of elf.audit) {
    unsafe(file, `${object === file.path ? 'it names' : `the library ${object} it loads names`} an audit module ${show(a)} (DT_AUDIT/DT_DEPAUDIT), which the loader would run outside the sandbox while listing`,
      { object, field: 'DT_AUDIT', value: a.slice(0, 160) })
  }
  const usesOrigin = [...elf.needed, ...elf.runpath, ...elf.rpath].some((s) => s.includes('$'))
  if (usesOrigin && !plainPath(object)) bad('path (the $ORIGIN of its search paths)', object)
}

/** Refuses (UNSAFE_EXECUTABLE) a library the loader maps from a place no plugin's ELF may choose (library-places.ts). */
function misplaced(file: PinnedPath, lib: string, listed: string, why: string, ownDir: string | undefined): never {
  throw new AppError(ErrorCode.UnsafeExecutable,
    `executable ${file.path}: the library ${lib} it loads ${why}. An ELF file may name any library on the host (an ` +
    'absolute DT_NEEDED, a RUNPATH, $ORIGIN/..), so a library is granted only from those places; nothing is granted, refusing to start',
    { executable: file.path, library: lib, ...(listed !== lib ? { listed } : {}), ...(ownDir ? { pluginDir: ownDir } : {}) })
}

/**
 * The libraries the loader preloads for every program (`/etc/ld.so.preload`, root's), which it lists first: the
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

const identity = (path: string): string | undefined => {
  const st = lstatSync(path, { bigint: true, throwIfNoEntry: false })
  return st ? `${path}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : undefined
}

/**
 * How far before the listing started a library must have last changed (its ctime) for what the engine read of it to
 * be what the loader read: the kernel's ctime clock is coarse (a tick, at most 10 ms); twice that, with room.
 */
const FRESH_MS = 50

/**
 * Shared libraries an ELF executable (pinned) loads, via `ld.so --list` (unlike `ldd`, never runs the program's own
 * interpreter), run unprivileged, and checked against the ELF files themselves. The listing is text the files'
 * authors shape (a DT_NEEDED name, a RUNPATH, a PT_INTERP may hold newlines and whole lines of their own), so the
 * engine takes no string from it that it did not read from an ELF, plain:
 * - every DT_NEEDED (and filter) name, DT_RUNPATH, DT_RPATH and PT_INTERP of the executable and of every library it
 *   takes from the listing must be plain (assertPlain), and the executable's path too when $ORIGIN builds a path
 *   from it; otherwise UNSAFE_EXECUTABLE (nothing granted);
 * - the listing is in load order, so each library's line comes after the object that needs it: a line
 *   "name => path" is taken only when `name` is a DT_NEEDED name of the executable or of a library taken before it,
 *   a line "/path" only when it is such an absolute DT_NEEDED name, or the loader; the vDSO's line grants nothing;
 *   any other line is UNSAFE_EXECUTABLE. A library is read (and pinned) only once its line is taken, so no file an
 *   injected line names is ever read;
 * - each library is granted only from a place no ELF file's author chooses (library-places.ts): by its canonical
 *   path, a system library directory (the loader's default ones, those of root's /etc/ld.so.cache) or inside
 *   `ownDir`, the plugin's canonical directory (an absolute path of root's /etc/ld.so.preload: anywhere). Any
 *   other: UNSAFE_EXECUTABLE naming it, judged before it is read (an ELF may name, plainly, any library on the host);
 * - each library is granted only when it is an ELF shared object, pinned (and read) when the list is made, and
 *   unchanged since before the listing started (ctime); the executable unchanged from before its read to after the
 *   listing (identity). Either changed: listed once more; changed again, PATH_CHANGED.
 * The loader is always granted. An executable that is not an ELF the engine can read, or has no dynamic section
 * (a static program, a script), gets the loader only and no listing is made. Cached by the file's identity (ctime
 * included, with `ownDir` and the ld.so.cache's identity) with the pins, not the names: a hit whose pins all still hold is used as is; otherwise the list is made
 * and checked anew, never a name re-pinned to whatever it leads to by then.
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
  for (let round = 1; ; round++) {
    const r = listLibraries(file, ownDir, sys.dirs)
    if (r !== 'changed') {
      const k = keyOf(r.id)
      if (k) libCache.set(k, r.pins)
      return { pins: r.pins, verified: false }
    }
    if (round === 2) {
      throw new AppError(ErrorCode.PathChanged, `executable ${file.path} or a library it loads changed while the engine listed its libraries; refusing to start`,
        { path: file.path, drift: 'changed while listed' })
    }
    Bun.sleepSync(FRESH_MS)
  }
}

const LIST_TIMEOUT_MS = 10_000
/** Listings that timed out, by the executable's identity: refused at once thereafter (bounded). */
const stalledListings = new Map<string, AppError>()

/**
 * Refuses (UNSAFE_EXECUTABLE) an executable whose library names lead, by an absolute name or through its own
 * RUNPATH/RPATH (with $ORIGIN), to something that exists and is not a regular file (a FIFO, a device, a socket): the
 * loader would open it while listing and block. What libraries found later name is bounded by the listing's timeout.
 */
function assertCandidatesRegular(file: PinnedPath, elf: ElfDynamic): void {
  const origin = dirname(file.path)
  const dirs = [...elf.rpath, ...elf.runpath].flatMap((p) => p.split(':')).filter((d) => d !== '')
    .map((d) => d.replaceAll('${ORIGIN}', origin).replaceAll('$ORIGIN', origin)).filter((d) => !d.includes('$') && isAbsolute(d))
  const candidates = elf.needed.flatMap((n) => (n.includes('/') ? [n] : dirs.map((d) => join(d, n))))
  for (const c of candidates) {
    const st = statSync(c, { throwIfNoEntry: false })
    if (st && !st.isFile() && !st.isDirectory()) {
      unsafe(file, `a library name it needs leads to ${show(c)}, which is not a regular file (a FIFO, a device or a socket the loader would block on)`,
        { object: file.path, field: 'DT_NEEDED', value: c.slice(0, 160) })
    }
  }
}

/** One listing, checked (see sharedLibraries); 'changed' when a file changed meanwhile. `id`: the identity to cache it under. */
function listLibraries(file: PinnedPath, ownDir: string | undefined, dirs: ReadonlySet<string>): { pins: PinnedFile[]; id?: string } | 'changed' {
  const key = identity(file.path)
  const loader = pinFile(LD_SO, 'library')
  const base = pinned(loader) ? [loader] : []
  const exe = readElfFile(file)
  if (!exe.ok) {
    assertPinHolds(file, 'executable')
    return { pins: base }
  }
  if (!exe.elf.dynamic) return { pins: base, ...(key ? { id: key } : {}) }
  assertPlain(file, file.path, exe.elf)
  assertCandidatesRegular(file, exe.elf)
  const stalled = key ? stalledListings.get(key) : undefined
  if (stalled) throw stalled
  const started = BigInt(Date.now() - FRESH_MS) * 1_000_000n
  const r = Bun.spawnSync(unprivileged([LD_SO, '--list', file.path]), { stdout: 'pipe', stderr: 'ignore', timeout: LIST_TIMEOUT_MS, env: {} })
  if (r.exitedDueToTimeout) {
    // The loader blocked on what a library name leads to (a FIFO, a device): refused, and remembered for this very
    // file (its identity, ctime included) so that no later attempt stalls a thread on it again.
    const e = new AppError(ErrorCode.UnsafeExecutable, `executable ${file.path}: the loader did not finish listing its libraries within ${LIST_TIMEOUT_MS / 1000} s ` +
      '(a library name leads to a FIFO or a device?); nothing is granted, refusing to start', { executable: file.path, problem: 'listing timed out' })
    if (key) { if (stalledListings.size >= 1024) stalledListings.clear(); stalledListings.set(key, e) }
    throw e
  }
  if (r.exitCode !== 0) {
    assertPinHolds(file, 'executable')
    return { pins: base }
  }
  const preload = preloaded()
  // Root's absolute preloads are root's choice, not the ELF's: taken wherever they lie.
  const rootChosen = new Set(preload.filter((p) => p.startsWith('/')))
  const needed = new Set([...preload, ...exe.elf.needed])
  const interp = exe.elf.interp
  const pins = new Map<string, PinnedFile>(base.map((p) => [p.path, p]))
  for (const l of r.stdout.toString().split('\n')) {
    if (l === '') continue
    const line = listedLine(l)
    if (!line) unsafe(file, `its loader's listing has a line the engine cannot account for, ${show(l)}`, { line: l.slice(0, 160) })
    if (line.kind === 'vdso') continue
    // The loader, as itself or as the interpreter or DT_NEEDED name that led to it: granted above.
    if (line.path === LD_SO && (line.kind === 'direct' || line.name === interp || needed.has(line.name))) continue
    const asked = line.kind === 'mapped' ? line.name : line.path
    if (!needed.has(asked)) {
      unsafe(file, `its loader's listing names ${show(asked)}, which no DT_NEEDED of it or of a library listed before names`,
        { line: l.slice(0, 160) })
    }
    const lib = checkFile(line.path, 'library', (real) => {
      if (line.kind === 'direct' && rootChosen.has(line.path)) return
      const why = libraryPlaceProblem(real, ownDir, dirs)
      if (why) misplaced(file, real, line.path, why, ownDir)
    })
    // Not a regular ELF shared object (gone, swapped): not granted, and what it needs stays unknown.
    if ('problem' in lib || !lib.elf) continue
    if (!lib.elf.ok) unsafe(file, `the library ${line.path} it loads ${lib.elf.problem}`, { object: line.path, problem: lib.elf.problem })
    if (lib.elf.ctimeNs === undefined || lib.elf.ctimeNs >= started) return 'changed'
    assertPlain(file, line.path, lib.elf.elf)
    for (const n of lib.elf.elf.needed) needed.add(n)
    pins.set(lib.pin.path, lib.pin)
  }
  // The list is of what was read only if the executable did not change meanwhile (its ctime would have moved).
  assertPinHolds(file, 'executable')
  if (identity(file.path) !== key) return 'changed'
  return { pins: [...pins.values()], ...(key ? { id: key } : {}) }
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
