/**
 * The shared objects the dynamic loader maps for an ELF executable, worked out in the engine, in TypeScript, the way
 * glibc's ld.so (x86-64) finds them, without running the loader or any other program on the file: the executable
 * and its libraries are the plugin's bytes, and a loader run on them outside the sandbox is a large parser under the
 * engine's privileges (docs/security.md, "Libraries").
 *
 * For each object in breadth-first load order (the executable, root's /etc/ld.so.preload entries, then what each
 * needs), each DT_NEEDED (and filter) name is, as glibc's _dl_map_object takes it:
 * - a name already loaded (asked by that name, found at that path, or its DT_SONAME; the vDSO's): that object;
 * - a name with `/`: that path ($ORIGIN expanded; a relative one is the loader's working directory: refused);
 * - otherwise searched: DT_RPATH of the object and of each object up the chain that loaded it, to the executable
 *   (only when the object has no DT_RUNPATH); LD_LIBRARY_PATH (the engine passes none); the object's DT_RUNPATH;
 *   /etc/ld.so.cache (its entries of that name for x86-64 libc6, compared as glibc compares them); the loader's own
 *   default directories (read out of the loader, which names them; unless DF_1_NODEFLIB).
 * In each directory the loader first tries its hardware-capability subdirectories (glibc-hwcaps/x86-64-v3, tls, …)
 * where this CPU supports them: a shared object found there is granted too (the engine does not model which the CPU
 * supports) and the search goes on to the directory itself. A file of another ELF class or machine is skipped, as
 * the loader skips it; anything else it would fail on (not ELF, not a shared object, a directory), or block on (a
 * FIFO, a device, a socket), is refused before a byte of it is read.
 *
 * Each candidate is resolved ONCE (fd-pin.ts): opened O_PATH, its inode and canonical path taken from that descriptor,
 * its place judged by that path, its bytes read through that descriptor, and that pin granted; the name is never
 * resolved again (review 7: a realpath judged and a second realpath pinned let a renameat2 swap grant another
 * plugin's library). A search directory or candidate the kernel cannot walk (ENOENT, ENOTDIR, ELOOP, EACCES,
 * ENAMETOOLONG) is "not here", as the loader takes it; any other error is UNSAFE_EXECUTABLE with a stable message.
 *
 * The work is bounded by what is done, against one budget per closure: MAX_PROBES filesystem calls, MAX_STEPS steps
 * (every search directory entry iterated, seen before or not, every link of the RPATH chain walked, every entry of a
 * search path split), MAX_NAME_BYTES bytes of names and search paths (every string taken from an object, every one
 * expanded, every candidate path probed); an object's RPATH/RUNPATH is split and expanded once per object. Exceeded:
 * UNSAFE_EXECUTABLE (problem 'too much searching'). Also MAX_OBJECTS objects, MAX_CHAIN loaders deep, and what
 * elf-dynamic.ts reads of each file.
 *
 * Anything that cannot be matched to what the loader does for sure is refused (UNSAFE_EXECUTABLE), never guessed: a
 * needed library found nowhere (the loader would not start the program either), $LIB or $PLATFORM, a relative or
 * empty search directory, two DT_RUNPATHs, a name whose number glibc's cache lookup would overflow.
 */

import { closeSync, lstatSync, readFileSync, statSync } from 'node:fs'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { PinnedPath } from '../plugins/path-pin.ts'
import { readElfDescriptor, type ElfDynamic, type ElfFile } from './elf-dynamic.ts'
import { errnoOf, notHere, openPinned, reopenForRead, type Opened } from './fd-pin.ts'
import { libraryPlaceProblem, type LdCacheEntry, type SystemLibraries } from './library-places.ts'

/** A shared object pinned as a library (the shape exec-files.ts grants). */
export interface PinnedLibrary extends PinnedPath { kind: 'library' }

/** The loader the engine grants (x86-64 glibc). */
export const LD_SO = '/lib64/ld-linux-x86-64.so.2'

export const MAX_OBJECTS = 1024
export const MAX_CHAIN = 256
export const MAX_PROBES = 65536
export const MAX_STEPS = 1 << 20
export const MAX_NAME_BYTES = 2 << 20
/** The `problem` of a refusal for exceeding the budget (exec-files.ts caches these by the executable's identity). */
export const TOO_MUCH_WORK = 'too much searching'

/** The file identity a budget refusal depended on: canonical path, device, inode and ctime (see objectIdentity). */
const readBefore = new WeakMap<AppError, readonly string[]>()

/**
 * For a refusal for exceeding the budget: the identities (objectIdentity) of the libraries read before it, on which
 * it depends besides the executable; undefined for any other error.
 */
export const refusalDependsOn = (e: AppError): readonly string[] | undefined => readBefore.get(e)

/** A file's identity as a budget refusal records it: `path`, device, inode, ctime; undefined when it cannot be seen. */
export function objectIdentity(path: string): string | undefined {
  let st
  try { st = lstatSync(path, { bigint: true, throwIfNoEntry: false }) } catch { return undefined }
  return st ? `${path}\0${st.dev}:${st.ino}:${st.ctimeNs}` : undefined
}

const ELFCLASS64 = 2, ELFDATA2LSB = 1, EM_X86_64 = 62, ET_DYN = 3, EV_CURRENT = 1
const OSABI_SYSV = 0, OSABI_GNU = 3
const DF_1_NODEFLIB = 0x800n, DF_1_PIE = 0x08000000n
/** ld.so.cache flags of an x86-64 libc6 library (FLAG_ELF_LIBC6 | FLAG_X8664_LIB64), and of a generic ELF one. */
const CACHE_X8664 = 0x0303, CACHE_ELF = 0x0001

/**
 * The hardware-capability subdirectories an x86-64 glibc may try in a search directory before the directory itself
 * (glibc-hwcaps since 2.33; the legacy platform and tls ones until 2.37): a superset, in glibc's priority order.
 */
export const HWCAP_SUBDIRS = [
  'glibc-hwcaps/x86-64-v4', 'glibc-hwcaps/x86-64-v3', 'glibc-hwcaps/x86-64-v2',
  'tls/haswell/x86_64', 'tls/haswell', 'tls/xeon_phi/x86_64', 'tls/xeon_phi', 'tls/avx512_1/x86_64', 'tls/avx512_1',
  'tls/x86_64/x86_64', 'tls/x86_64', 'tls',
  'haswell/x86_64', 'haswell', 'xeon_phi/x86_64', 'xeon_phi', 'avx512_1/x86_64', 'avx512_1', 'x86_64/x86_64', 'x86_64',
]

/**
 * The default directory lists a glibc loader is built with (Debian/Ubuntu multiarch; Fedora/RHEL/SUSE lib64): the
 * loader holds its own as consecutive NUL-ended strings, which is how the one in use is recognised.
 */
const KNOWN_DEFAULT_DIRS = [
  ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib', '/usr/lib'],
  ['/lib64', '/usr/lib64'],
]

let defaults: { id: string; dirs: readonly string[] | undefined } | undefined

/** The default search directories of the loader at LD_SO (a root file), or undefined when it names none the engine knows. */
export function loaderDefaultDirs(): readonly string[] | undefined {
  // Resolved once: the identity checked and the bytes read are of one inode (fd-pin.ts).
  const res = openPinned(LD_SO)
  if (res.kind !== 'opened') return undefined
  const { fd, pin, st } = res.opened
  try {
    if (!st.isFile() || st.uid !== 0n || (st.mode & 0o022n) !== 0n || st.size > 16n << 20n) return undefined
    const id = `${pin.path}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`
    if (defaults?.id === id) return defaults.dirs
    const rfd = reopenForRead(fd)
    if (rfd === undefined) return undefined
    let bytes: Buffer
    try { bytes = readFileSync(rfd) } catch { return undefined } finally { closeSync(rfd) }
    const dirs = KNOWN_DEFAULT_DIRS.find((l) => bytes.includes(`\0${l.map((d) => `${d}/`).join('\0')}\0`, 0, 'latin1'))
    defaults = { id, dirs }
    return dirs
  } finally { closeSync(fd) }
}

/**
 * A name as glibc's _dl_cache_libcmp compares it: digit runs as numbers ("libc.so.06" is "libc.so.6"), so two names
 * are equal to it exactly when their keys are.
 */
const cacheKey = (name: string): string => name.replace(/[0-9]+/g, (d) => String(Number(d)))

/** The cache's entries by cacheKey, built once per cache read. */
const cacheIndex = new WeakMap<readonly LdCacheEntry[], Map<string, LdCacheEntry[]>>()
function cacheLookup(cache: readonly LdCacheEntry[], name: string): LdCacheEntry[] {
  let idx = cacheIndex.get(cache)
  if (!idx) {
    idx = new Map()
    for (const e of cache) {
      const k = cacheKey(e.name)
      const l = idx.get(k)
      if (l) l.push(e); else idx.set(k, [e])
    }
    cacheIndex.set(cache, idx)
  }
  return idx.get(cacheKey(name)) ?? []
}

/** A name with a digit run glibc's int would overflow on in the cache lookup: refused rather than emulated. */
const OVERLONG_NUMBER = /[0-9]{10,}/

/** A name the loader is asked for or a search path, plain (see assertPlain). */
const PLAIN = /^[A-Za-z0-9._+@/-]+$/
const DST = /\$(?:ORIGIN|LIB|PLATFORM)\b|\$\{(?:ORIGIN|LIB|PLATFORM)\}/g
export const plainName = (s: string): boolean => PLAIN.test(s.replace(DST, 'x'))
const plainSearchPath = (s: string): boolean => s.split(':').every((d) => d === '' || plainName(d))
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/
const plainPath = (s: string): boolean => !/\s/.test(s) && !CONTROL.test(s)
export const show = (s: string): string => JSON.stringify(s.length > 160 ? `${s.slice(0, 160)}…` : s)

function unsafe(file: PinnedPath, why: string, details: Record<string, unknown>): never {
  throw new AppError(ErrorCode.UnsafeExecutable, `executable ${file.path}: ${why}; nothing is granted, refusing to start`,
    { executable: file.path, ...details })
}

/** Refuses (UNSAFE_EXECUTABLE) an object of the closure whose library names, search paths or interpreter are not plain, or that names an audit module. */
function assertPlain(file: PinnedPath, object: string, elf: ElfDynamic): void {
  const who = object === file.path ? 'it' : `the library ${object} it loads`
  const bad = (field: string, value: string) => unsafe(file, `${who} has a ${field} ${show(value)} that is not plain (letters, digits, . _ + @ - /, $ORIGIN, $LIB, $PLATFORM)`,
    { object, field, value: value.slice(0, 160) })
  for (const n of elf.needed) if (!plainName(n)) bad('DT_NEEDED name', n)
  for (const r of elf.runpath) if (!plainSearchPath(r)) bad('DT_RUNPATH', r)
  for (const r of elf.rpath) if (!plainSearchPath(r)) bad('DT_RPATH', r)
  if (elf.soname !== undefined && !plainName(elf.soname)) bad('DT_SONAME', elf.soname)
  if (elf.interp !== undefined && !PLAIN.test(elf.interp)) bad('PT_INTERP', elf.interp)
  // An audit module is code the loader runs in the plugin's process before its main: a hook no plugin needs.
  for (const a of elf.audit) {
    unsafe(file, `${who === 'it' ? 'it names' : `${who} names`} an audit module ${show(a)} (DT_AUDIT/DT_DEPAUDIT)`,
      { object, field: 'DT_AUDIT', value: a.slice(0, 160) })
  }
  if (elf.runpath.length > 1 || elf.rpath.length > 1) {
    unsafe(file, `${who} has ${elf.runpath.length > 1 ? 'more than one DT_RUNPATH' : 'more than one DT_RPATH'}, which loaders read differently`, { object })
  }
  const usesOrigin = [...elf.needed, ...elf.runpath, ...elf.rpath].some((s) => s.includes('$'))
  if (usesOrigin && !plainPath(object)) bad('path (the $ORIGIN of its search paths)', object)
}

/**
 * One object of the closure: where the loader found it (its $ORIGIN and l_name), its pin and what it says; its
 * RPATH and RUNPATH directories, split, expanded and deduplicated once (when first searched).
 */
interface Loaded {
  found: string; pin: PinnedPath; elf: ElfDynamic; loader: Loaded | undefined; depth: number
  rpathDirs?: readonly string[]; runpathDirs?: readonly string[]
}

/** Thrown inside a resolution when a file changed while it was read (see resolveLibraries' `started`). */
export class Changed { readonly changed = true }

/** The directory part of a path as the loader takes it: the string before its last `/`, never normalised. */
const dirOf = (p: string): string => { const i = p.lastIndexOf('/'); return i <= 0 ? '/' : p.slice(0, i) }

export interface ClosureInput {
  /** The executable, pinned, and what elf-dynamic.ts read of it (a dynamic ELF64 x86-64 object). */
  exe: PinnedPath
  elf: ElfDynamic
  /** The plugin's canonical directory, where its own libraries may lie. */
  ownDir: string | undefined
  sys: SystemLibraries
  /** Root's /etc/ld.so.preload entries, plain. */
  preload: readonly string[]
  /** A library whose ctime is this late or later (ns) was changing while read: Changed is thrown. */
  started: bigint
}

/** A library of the closure: pinned (canonical path), and the path the loader finds it by (where a Docker image needs it). */
export interface ResolvedLibrary { pin: PinnedLibrary; found: string }

/**
 * The shared objects the loader maps for `exe`, the loader itself first; the executable not among them. Throws
 * UNSAFE_EXECUTABLE (see the module's comment), PATH_CHANGED never (the caller checks the executable), Changed when
 * a library was changing while read.
 */
export function resolveLibraries(input: ClosureInput): ResolvedLibrary[] {
  const { exe, ownDir, sys, started } = input
  const searchDefaults = loaderDefaultDirs()
  if (!searchDefaults) {
    unsafe(exe, `the engine does not recognise the default library directories of the loader ${LD_SO}, so it cannot tell which libraries it would load`, { loader: LD_SO })
  }
  assertPlain(exe, exe.path, input.elf)
  let probes = 0, steps = 0, nameBytes = 0
  /** The identities of the libraries read so far (what a budget refusal depends on besides the executable). */
  const read: string[] = []
  const overBudget = (what: string, limit: number): never => {
    const e = new AppError(ErrorCode.UnsafeExecutable,
      `executable ${exe.path}: finding its libraries takes more than ${limit} ${what} (its libraries name too many libraries, or too many or too long search paths); nothing is granted, refusing to start`,
      { executable: exe.path, problem: TOO_MUCH_WORK, limit: `${limit} ${what}` })
    readBefore.set(e, [...read])
    throw e
  }
  /** One step of work (a directory entry iterated, a chain link walked, a search path entry split). */
  const step = (n = 1): void => { steps += n; if (steps > MAX_STEPS) overBudget('steps', MAX_STEPS) }
  /** Bytes of names or search paths taken in, expanded or probed. */
  const bytes = (n: number): void => { nameBytes += n; if (nameBytes > MAX_NAME_BYTES) overBudget('bytes of library names and search paths', MAX_NAME_BYTES) }
  /** The strings of an object taken into the closure. */
  const takeIn = (elf: ElfDynamic): void => {
    let n = elf.soname?.length ?? 0
    for (const l of [elf.needed, elf.runpath, elf.rpath]) for (const x of l) n += x.length
    bytes(n)
    step(elf.needed.length)
  }
  takeIn(input.elf)
  const dirExists = new Map<string, boolean>()
  const byName = new Map<string, Loaded[]>()
  const byId = new Map<string, Loaded>()
  const queue: Loaded[] = []
  const main: Loaded = { found: exe.path, pin: exe, elf: input.elf, loader: undefined, depth: 0 }
  byId.set(`${exe.dev}:${exe.ino}`, main)
  byName.set(exe.path, [main])
  // glibc matches a needed name against every loaded object's DT_SONAME, the executable's included (review 7).
  if (input.elf.soname !== undefined && !byName.has(input.elf.soname)) byName.set(input.elf.soname, [main])
  // The vDSO the kernel maps is loaded under its soname before anything: a name for it loads no file.
  byName.set('linux-vdso.so.1', [])
  const out = new Map<string, ResolvedLibrary>()
  // The loader itself, already loaded: by its path, the executable's PT_INTERP, its soname, its inode.
  const rtldRead = readLibrary(LD_SO)
  if (rtldRead) {
    const { pin: rtld, r } = rtldRead
    const self: Loaded | undefined = r.ok ? { found: LD_SO, pin: rtld, elf: r.elf, loader: undefined, depth: 0 } : undefined
    out.set(rtld.path, { pin: rtld, found: LD_SO })
    if (self) {
      byId.set(`${rtld.dev}:${rtld.ino}`, self)
      for (const n of [LD_SO, input.elf.interp, r.ok ? r.elf.soname : undefined]) if (n !== undefined && !byName.has(n)) byName.set(n, [self])
    }
  }

  /** Whether `d` is a directory the loader can search (ENOENT, ENOTDIR, ELOOP, EACCES, ENAMETOOLONG: not here). */
  const dirHere = (d: string): boolean => {
    step()
    let e = dirExists.get(d)
    if (e === undefined) {
      count(d)
      try { e = statSync(d, { throwIfNoEntry: false })?.isDirectory() ?? false } catch (err) {
        if (!notHere(err)) {
          unsafe(exe, `a directory where it looks for its libraries, ${show(d)}, cannot be examined (${errnoOf(err)}), so the engine cannot tell what the loader would do`,
            { directory: d.slice(0, 160) })
        }
        e = false
      }
      dirExists.set(d, e)
    }
    return e
  }
  /** One filesystem call on `path`. */
  function count(path: string): void {
    bytes(path.length)
    if (++probes > MAX_PROBES) overBudget('file names', MAX_PROBES)
  }
  const origin = (o: Loaded): string => dirOf(o.found)
  /** `s` with $ORIGIN of `o` expanded; any other `$` refused. */
  const expand = (s: string, o: Loaded, what: string): string => {
    const e = s.replace(/\$ORIGIN(?=\/|$)|\$\{ORIGIN\}/g, () => origin(o))
    bytes(e.length)
    if (e.includes('$')) {
      unsafe(exe, `${o === main ? 'it' : `the library ${o.found} it loads`} has a ${what} ${show(s)} with $LIB, $PLATFORM or another $ the engine does not expand`, { object: o.found, field: what, value: s.slice(0, 160) })
    }
    return e
  }
  /** An object's DT_RPATH or DT_RUNPATH directories: split, expanded, each directory once (the first), in order. */
  const searchDirs = (paths: readonly string[], o: Loaded, what: string): string[] => {
    const out = new Set<string>()
    for (const p of paths) {
      const parts = p.split(':')
      step(parts.length)
      for (const d of parts) {
        const e = expand(d, o, what)
        if (!e.startsWith('/')) {
          unsafe(exe, `${o === main ? 'it' : `the library ${o.found} it loads`} has a ${what} with a relative or empty directory ${show(d)}, which the loader takes from its working directory`, { object: o.found, field: what, value: d.slice(0, 160) })
        }
        out.add(e.length > 1 ? e.replace(/\/+$/, '') || '/' : e)
      }
    }
    return [...out]
  }
  const rpathOf = (o: Loaded): readonly string[] => (o.rpathDirs ??= searchDirs(o.elf.rpath, o, 'DT_RPATH'))
  const runpathOf = (o: Loaded): readonly string[] => (o.runpathDirs ??= searchDirs(o.elf.runpath, o, 'DT_RUNPATH'))

  /**
   * What the loader finds at `path`: 'absent' (nothing, or not for the loader to open: it searches on), 'skip' (an
   * ELF of another class or machine, which it skips), or the object (already loaded when it is the same inode).
   */
  function tryPath(path: string, by: Loaded, rootChosen: boolean): Loaded | 'absent' | 'skip' {
    count(path)
    // The one resolution of this name: everything below is of the inode it reached (fd-pin.ts).
    const res = openPinned(path)
    if (res.kind === 'absent') return 'absent'
    if (res.kind === 'moved') throw new Changed()
    if (res.kind === 'error') {
      unsafe(exe, `a library it loads is looked up at ${show(path)}, which ${res.problem}, so the engine cannot tell what the loader would do`, { object: by.found, candidate: path.slice(0, 160) })
    }
    const opened = res.opened
    try { return tryOpened(path, opened, by, rootChosen) } finally { closeSync(opened.fd) }
  }

  function tryOpened(path: string, { fd, pin: p, st }: Opened, by: Loaded, rootChosen: boolean): Loaded | 'absent' | 'skip' {
    if (!st.isFile()) {
      unsafe(exe, `a library name ${by === main ? 'it' : `the library ${by.found} it loads`} needs leads to ${show(path)}, which is not a regular file (a FIFO, a device, a socket or a directory: the loader would block on it or fail)`,
        { object: by.found, field: 'DT_NEEDED', value: path.slice(0, 160) })
    }
    const same = byId.get(`${p.dev}:${p.ino}`)
    if (same) return same
    const pin: PinnedLibrary = { ...p, kind: 'library' }
    // Judged by the pin's own canonical path (the descriptor's), before a byte of it is read.
    const why = rootChosen ? undefined : libraryPlaceProblem(pin.path, ownDir, sys.dirs)
    if (why) {
      throw new AppError(ErrorCode.UnsafeExecutable,
        `executable ${exe.path}: the library ${pin.path} it loads ${why}. An ELF file may name any library on the host (an ` +
        'absolute DT_NEEDED, a RUNPATH, $ORIGIN/..), so a library is granted only from those places; nothing is granted, refusing to start',
        { executable: exe.path, library: pin.path, ...(pin.path !== path ? { listed: path } : {}), ...(ownDir ? { pluginDir: ownDir } : {}) })
    }
    const r = readOpened(fd, pin)
    if (!r) return 'absent'
    const h = r.ok ? r.elf.header : r.header
    const refuse = (problem: string): never => unsafe(exe, `the library ${path} it loads ${problem}, which the loader would fail on`, { object: path, problem })
    if (!h) refuse(r.ok ? 'cannot be read' : r.problem)
    if (h!.cls !== ELFCLASS64) return 'skip'
    if (h!.data !== ELFDATA2LSB || h!.identVersion !== EV_CURRENT || (h!.osabi !== OSABI_SYSV && h!.osabi !== OSABI_GNU) || h!.abiVersion !== 0 || !h!.padZero) {
      refuse('has an ELF identification the loader does not take (byte order, version, OS ABI or padding)')
    }
    if (h!.version !== 0 && h!.version !== EV_CURRENT) refuse('has an ELF version the loader does not take')
    if (h!.machine !== EM_X86_64) return 'skip'
    if (!r.ok) return refuse(r.problem)
    if (r.elf.type !== ET_DYN) refuse('is not an ELF shared object')
    if ((r.elf.flags1 & DF_1_PIE) !== 0n) refuse('is a position-independent executable, not a shared object')
    if (r.ctimeNs === undefined || r.ctimeNs >= started) throw new Changed()
    assertPlain(exe, path, r.elf)
    read.push(`${pin.path}\0${pin.dev}:${pin.ino}:${r.ctimeNs}`)
    takeIn(r.elf)
    if (by.depth + 1 > MAX_CHAIN) unsafe(exe, `its libraries load one another more than ${MAX_CHAIN} deep`, { problem: 'too deep' })
    if (queue.length >= MAX_OBJECTS) unsafe(exe, `it loads more than ${MAX_OBJECTS} libraries`, { problem: 'too many libraries' })
    const o: Loaded = { found: path, pin, elf: r.elf, loader: by, depth: by.depth + 1 }
    byId.set(`${pin.dev}:${pin.ino}`, o)
    if (!byName.has(path)) byName.set(path, [o])
    if (r.elf.soname !== undefined && !byName.has(r.elf.soname)) byName.set(r.elf.soname, [o])
    queue.push(o)
    out.set(pin.path, { pin, found: path })
    return o
  }

  /** Searches `dirs` for `name`: the hwcap subdirectories' finds (granted, not certain) and the first certain find. */
  function inDirs(name: string, dirs: readonly string[], by: Loaded, seen: Set<string>, also: Loaded[]): Loaded | undefined {
    for (const d of dirs) {
      step()
      if (seen.has(d)) continue
      seen.add(d)
      if (!dirHere(d)) continue
      for (const sub of HWCAP_SUBDIRS) {
        const sd = d === '/' ? `/${sub}` : `${d}/${sub}`
        if (!dirHere(sd)) continue
        const r = tryPath(`${sd}/${name}`, by, false)
        if (typeof r !== 'string') also.push(r)
      }
      const r = tryPath(d === '/' ? `/${name}` : `${d}/${name}`, by, false)
      if (typeof r !== 'string') return r
    }
    return undefined
  }

  /** What the loader maps for `name` asked by `by`: its objects (none: not found). */
  function resolve(name: string, by: Loaded, preload: boolean): Loaded[] {
    step()
    const known = byName.get(name)
    if (known) return known
    const found: Loaded[] = []
    if (name.includes('/')) {
      const path = expand(name, by, 'DT_NEEDED name')
      if (!path.startsWith('/')) {
        unsafe(exe, `${by === main ? 'it needs' : `the library ${by.found} it loads needs`} ${show(name)}, a relative path the loader takes from its working directory`, { object: by.found, field: 'DT_NEEDED', value: name.slice(0, 160) })
      }
      const r = tryPath(path, by, preload)
      if (typeof r !== 'string') found.push(r)
    } else {
      if (OVERLONG_NUMBER.test(name)) unsafe(exe, `a library name ${show(name)} it loads has a number too long for the loader's cache lookup`, { object: by.found, value: name.slice(0, 160) })
      const seen = new Set<string>()
      const certain = ((): Loaded | undefined => {
        if (by.elf.runpath.length === 0) {
          for (let l: Loaded | undefined = by; l; l = l.loader) {
            step()
            if (l.elf.rpath.length === 0 || l.elf.runpath.length > 0) continue
            const r = inDirs(name, rpathOf(l), by, seen, found)
            if (r) return r
          }
        }
        if (by.elf.runpath.length > 0) {
          const r = inDirs(name, runpathOf(by), by, seen, found)
          if (r) return r
        }
        const nodeflib = (by.elf.flags1 & DF_1_NODEFLIB) !== 0n
        const sysPrefix = (p: string): boolean => searchDefaults!.some((d) => p.startsWith(`${d}/`))
        const entries = cacheLookup(sys.cache, name).filter((e) => (e.flags === CACHE_X8664 || e.flags === CACHE_ELF) && !(nodeflib && sysPrefix(e.path)))
        const best = entries.find((e) => e.flags === CACHE_X8664 && e.hwcap === 0n)
        for (const e of entries) {
          if (e === best || !e.path.startsWith('/')) continue
          const r = tryPath(e.path, by, false)
          if (typeof r !== 'string') found.push(r)
        }
        if (best && best.path.startsWith('/')) {
          const r = tryPath(best.path, by, false)
          if (typeof r !== 'string') return r
        }
        return nodeflib ? undefined : inDirs(name, searchDefaults!, by, seen, found)
      })()
      if (certain) found.push(certain)
    }
    const objs = [...new Set(found)]
    if (objs.length === 0) {
      // A preload that cannot be loaded is ignored by the loader (a warning); a needed library stops the program.
      if (preload) return []
      unsafe(exe, `the library ${show(name)} ${by === main ? 'it needs' : `that ${by.found} (which it loads) needs`} is found in none of the places the loader looks (its RPATH/RUNPATH, /etc/ld.so.cache, ${searchDefaults!.join(', ')}), so the loader would not start it either`,
        { object: by.found, library: name.slice(0, 160), problem: 'library not found' })
    }
    byName.set(name, objs)
    return objs
  }

  queue.push(main)
  for (const p of input.preload) resolve(p, main, true)
  for (let i = 0; i < queue.length; i++) {
    const o = queue[i]!
    for (const n of o.elf.needed) resolve(n, o, false)
  }
  return [...out.values()]
}

/** What elf-dynamic.ts reads of the regular file an O_PATH descriptor holds (reopened through it), or undefined. */
function readOpened(fd: number, pin: PinnedPath): ElfFile | undefined {
  const rfd = reopenForRead(fd)
  if (rfd === undefined) return undefined
  try { return readElfDescriptor(rfd, pin) } finally { closeSync(rfd) }
}

/** `path` resolved once and pinned (fd-pin.ts) when it is a regular file, and what is read of it; undefined otherwise. */
function readLibrary(path: string): { pin: PinnedLibrary; r: ElfFile } | undefined {
  const res = openPinned(path)
  if (res.kind !== 'opened') return undefined
  const { fd, pin, st } = res.opened
  try {
    if (!st.isFile()) return undefined
    const r = readOpened(fd, pin)
    return r ? { pin: { ...pin, kind: 'library' }, r } : undefined
  } finally { closeSync(fd) }
}
