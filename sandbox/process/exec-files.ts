/**
 * Files a launch grants read + execute because running the plugin needs them (its `run` programs, its `#!`
 * interpreter, the libraries the loader maps), each checked to be what it is granted as and pinned by that same check:
 * the pin (canonical path + inode) is taken from the one lstat that saw a regular file, never by resolving the name
 * again later, so that what the launcher grants is an inode that was a program or a library when it was checked.
 */

import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs'
import { delimiter, isAbsolute, join } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { pinDrift, type PinnedPath } from '../plugins/path-pin.ts'

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
  let real: string
  try { real = realpathSync.native(path) } catch { return { problem: 'is gone' } }
  const st = lstatSync(real, { bigint: true, throwIfNoEntry: false })
  const problem = !st ? 'is gone' : st.isDirectory() ? 'is a directory' : st.isSymbolicLink() ? 'was swapped for a symbolic link'
    : !st.isFile() ? 'is not a regular file' : kind === 'program' && (st.mode & 0o111n) === 0n ? 'is not executable' : undefined
  if (problem || !st) return { problem: problem ?? 'is gone' }
  if (kind === 'library' && !isSharedObject(real, st.dev, st.ino)) return { problem: 'is not an ELF shared object' }
  return { path: real, dev: String(st.dev), ino: String(st.ino), kind }
}

/**
 * Whether the file at `real` (the inode lstat saw) starts as an ELF shared object (ET_DYN). The loader's listing is
 * text the file's author can shape (a DT_NEEDED name may hold a whole line of its own, naming any file), so a
 * "library" is granted only when it is one: never a key file, a config or a database.
 */
function isSharedObject(real: string, dev: bigint, ino: bigint): boolean {
  let fd: number
  try { fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK) } catch { return false }
  try {
    const st = fstatSync(fd, { bigint: true })
    if (st.dev !== dev || st.ino !== ino || !st.isFile()) return false
    const head = Buffer.alloc(18)
    if (readSync(fd, head, 0, 18, 0) !== 18) return false
    const magic = head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46
    // e_type at offset 16, in the file's byte order (EI_DATA: 1 little-endian, 2 big-endian); 3 = ET_DYN.
    const type = head[5] === 2 ? head.readUInt16BE(16) : head.readUInt16LE(16)
    return magic && type === 3
  } catch {
    return false
  } finally {
    closeSync(fd)
  }
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
 * The lines of `ld.so --list` the engine takes, and only in these exact shapes ("\tname => /path (0xaddr)",
 * "\t/path (0xaddr)"): a DT_NEEDED name is the file's author's and may hold a newline that starts a line of its own,
 * so any other line (and any path with a space or a control character) yields nothing.
 */
const LDSO_LINE = /^\t(?:[^\s/]+ => (\/[^\s]+)|(\/[^\s]+)) \(0x[0-9a-f]+\)$/
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/

/** The library paths in `ld.so --list` output (strictly parsed, see LDSO_LINE). Exported for tests. */
export function parseLdsoList(out: string): string[] {
  return out.split('\n').flatMap((l) => {
    const m = LDSO_LINE.exec(l)
    const p = m?.[1] ?? m?.[2]
    return p && !CONTROL.test(p) ? [p] : []
  })
}

/** Cached library pins, keyed by the file's identity including its ctime, which its owner cannot set back. */
const libCache = new Map<string, PinnedFile[]>()

const identity = (path: string): string | undefined => {
  const st = lstatSync(path, { bigint: true, throwIfNoEntry: false })
  return st ? `${path}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : undefined
}

/**
 * Shared libraries an ELF executable (pinned) loads, via `ld.so --list` (unlike `ldd`, never runs the program's own
 * interpreter), run unprivileged; each pinned as a library file when the list is made (a listed path that is not a
 * regular file is not granted). Empty for scripts. Cached by the file's identity (ctime included) with the pins, not
 * the names: a hit whose pins all still hold is used as is; otherwise the list is made and checked anew, never a
 * name re-pinned to whatever it leads to by then.
 */
export function sharedLibraries(file: PinnedPath): PinnedFile[] {
  const key = identity(file.path)
  const hit = key ? libCache.get(key) : undefined
  // A cached pin that no longer holds (a library upgraded, or swapped) is never re-pinned by its name: the list is
  // made again, and what it names is checked again (regular files only).
  if (hit && hit.every((p) => pinDrift(p) === undefined)) return hit
  const r = Bun.spawnSync(unprivileged([LD_SO, '--list', file.path]), { stdout: 'pipe', stderr: 'ignore', timeout: 10_000, env: {} })
  const libs = r.exitCode !== 0 ? [] : parseLdsoList(r.stdout.toString())
  const pins = new Map<string, PinnedFile>()
  for (const p of [LD_SO, ...libs]) {
    const pin = pinFile(p, 'library')
    if (pinned(pin)) pins.set(pin.path, pin)
  }
  const all = [...pins.values()]
  // The list is of what stood there during the listing only if nothing changed meanwhile (the ctime would have moved).
  assertPinHolds(file, 'executable')
  if (key && identity(file.path) === key) libCache.set(key, all)
  return all
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
