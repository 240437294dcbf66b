/**
 * Reads, from an ELF file, the strings the dynamic loader reads to find its libraries: DT_NEEDED (and the filter
 * names DT_FILTER / DT_AUXILIARY, which it loads too), DT_RUNPATH, DT_RPATH and PT_INTERP. Found the way the loader
 * finds them — through the program headers and the PT_LOAD mappings of their virtual addresses, never through section
 * headers, which a hostile file may make say something else — so that what is checked here is what `ld.so` reads (library-closure.ts resolves from it what the loader would map).
 * ELF32 and ELF64, either byte order. Every read is bounded (a header, at most MAX_PHNUM program headers, MAX_DYN
 * dynamic entries, MAX_STRINGS strings of at most MAX_STRING bytes); a file that would need more, or that is
 * truncated, inconsistent (overlapping mappings, a second PT_DYNAMIC or DT_STRTAB, a string past its mapping) or not
 * an ELF at all yields a problem, never a throw.
 */

import { closeSync, constants, fstatSync, openSync, readFileSync, readSync } from 'node:fs'
import type { PinnedPath } from '../plugins/path-pin.ts'

/** What the loader reads of one ELF file to find what it needs. */
export interface ElfDynamic {
  /** e_type: 2 ET_EXEC, 3 ET_DYN (a shared object or a PIE). */
  type: number
  /** The header fields the loader checks before it takes a file (open_verify). */
  header: ElfHeader
  /** DT_SONAME, the name the loader also knows the object by once loaded (absent: none). */
  soname?: string
  /** DT_FLAGS_1 (0: none); DF_1_NODEFLIB (0x800) keeps the loader from the cache's system entries and the default dirs. */
  flags1: bigint
  /** PT_INTERP, the interpreter it names (absent: none). */
  interp?: string
  /** DT_NEEDED names, then DT_FILTER / DT_AUXILIARY names, in the dynamic section's order. */
  needed: string[]
  /** DT_RUNPATH strings (each a `:`-separated list of directories). */
  runpath: string[]
  /** DT_RPATH strings. */
  rpath: string[]
  /**
   * DT_AUDIT / DT_DEPAUDIT names: audit modules the loader loads and RUNS (their `la_version`) for the main program
   * before it starts (even when it only lists). Never acceptable in a file the engine grants.
   */
  audit: string[]
  /** Whether it has a PT_DYNAMIC at all (a static program has none, and no libraries). */
  dynamic: boolean
}

/** e_ident and e_machine, as the loader judges a candidate by them (class and machine mismatches: skipped). */
export interface ElfHeader {
  /** EI_CLASS: 1 ELF32, 2 ELF64. */
  cls: number
  /** EI_DATA: 1 little-endian, 2 big-endian. */
  data: number
  /** EI_VERSION, e_version: 1 (EV_CURRENT) in any file the loader takes. */
  identVersion: number
  version: number
  /** EI_OSABI, EI_ABIVERSION, and whether EI_PAD is all zero. */
  osabi: number
  abiVersion: number
  padZero: boolean
  /** e_machine (62: x86-64). */
  machine: number
}

/** The file as read, or why not (with e_type and the header when the header at least was read). */
export type ElfRead = { ok: true; elf: ElfDynamic } | { ok: false; problem: string; type?: number; header?: ElfHeader }

/** Reads exactly `length` bytes at `offset`, or undefined (past the end, an error). */
export type ReadAt = (offset: number, length: number) => Uint8Array | undefined

export const MAX_PHNUM = 256
export const MAX_DYN = 4096
export const MAX_STRINGS = 512
export const MAX_STRING = 4096

const PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3
const DT_NULL = 0n, DT_NEEDED = 1n, DT_STRTAB = 5n, DT_SONAME = 14n, DT_RPATH = 15n, DT_RUNPATH = 29n, DT_FLAGS_1 = 0x6ffffffbn
const DT_AUXILIARY = 0x7ffffffdn, DT_FILTER = 0x7fffffffn
const DT_DEPAUDIT = 0x6ffffefbn, DT_AUDIT = 0x6ffffefcn
/** Every dynamic tag whose string makes the loader open (or run) a file: what the engine must see before it lists. */
const LOADING_TAGS: ReadonlySet<bigint> = new Set([DT_NEEDED, DT_FILTER, DT_AUXILIARY, DT_RUNPATH, DT_RPATH, DT_AUDIT, DT_DEPAUDIT, DT_SONAME])

interface Load { vaddr: number; offset: number; filesz: number; memsz: number }

class Bad { constructor(readonly problem: string) {} }

/** The page size the loader rounds its mappings to (AT_PAGESZ from the engine's own auxv; 64 KiB when unknown). */
export const PAGE_SIZE: number = ((): number => {
  try {
    const a = readFileSync('/proc/self/auxv')
    for (let i = 0; i + 16 <= a.length; i += 16) {
      const type = a.readBigUInt64LE(i), val = a.readBigUInt64LE(i + 8)
      if (type === 6n && val > 0n && val <= 1n << 20n) return Number(val)
      if (type === 0n) break
    }
  } catch { /* fall through */ }
  return 65536
})()

/** Parses the ELF that `readAt` reads (a file of `size` bytes). Never throws. */
export function parseElfDynamic(size: number, readAt: ReadAt, pageSize = PAGE_SIZE): ElfRead {
  let type: number | undefined
  let header: ElfHeader | undefined
  try {
    const read = (off: number, len: number): DataView => {
      if (!Number.isSafeInteger(off) || off < 0 || len < 0 || off + len > size) throw new Bad('is truncated (a read past its end)')
      const b = readAt(off, len)
      if (!b || b.length !== len) throw new Bad('is truncated (a short read)')
      return new DataView(b.buffer, b.byteOffset, b.byteLength)
    }
    const ident = read(0, 16)
    if (ident.getUint32(0) !== 0x7f454c46) return { ok: false, problem: 'is not an ELF file' }
    const cls = ident.getUint8(4), data = ident.getUint8(5)
    const pad = new Uint8Array(ident.buffer, ident.byteOffset + 9, 7)
    header = { cls, data, identVersion: ident.getUint8(6), version: 0, osabi: ident.getUint8(7), abiVersion: ident.getUint8(8),
      padZero: pad.every((x) => x === 0), machine: size >= 20 ? read(18, 2).getUint16(0, data !== 2) : -1 }
    if (cls !== 1 && cls !== 2) return { ok: false, problem: `has an unknown ELF class ${cls}`, header }
    if (data !== 1 && data !== 2) return { ok: false, problem: `has an unknown ELF byte order ${data}`, header }
    const is64 = cls === 2, le = data === 1
    const safe = (v: bigint, what: string): number => {
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Bad(`has an absurd ${what}`)
      return Number(v)
    }
    const word = (v: DataView, off: number): number => is64 ? safe(v.getBigUint64(off, le), 'address or size') : v.getUint32(off, le)
    const h = read(0, is64 ? 64 : 52)
    type = h.getUint16(16, le)
    header.version = h.getUint32(20, le)
    const phoff = word(h, is64 ? 32 : 28)
    const phentsize = h.getUint16(is64 ? 54 : 42, le), phnum = h.getUint16(is64 ? 56 : 44, le)
    if (phentsize !== (is64 ? 56 : 32)) throw new Bad(`has program headers of ${phentsize} bytes`)
    if (phnum === 0) throw new Bad('has no program headers')
    if (phnum > MAX_PHNUM) throw new Bad(`has ${phnum} program headers (at most ${MAX_PHNUM} are read)`)
    const ph = read(phoff, phnum * phentsize)
    const loads: Load[] = []
    let dynamic: { vaddr: number } | undefined, interp: { vaddr: number; filesz: number } | undefined
    for (let i = 0; i < phnum; i++) {
      const b = i * phentsize
      const pType = ph.getUint32(b, le)
      const offset = word(ph, is64 ? b + 8 : b + 4), vaddr = word(ph, is64 ? b + 16 : b + 8)
      const filesz = word(ph, is64 ? b + 32 : b + 16), memsz = word(ph, is64 ? b + 40 : b + 20)
      if (pType === PT_LOAD) {
        if (filesz > memsz) throw new Bad('has a PT_LOAD larger in the file than in memory')
        if (offset + filesz > size) throw new Bad('has a PT_LOAD past its end')
        loads.push({ vaddr, offset, filesz, memsz })
      } else if (pType === PT_DYNAMIC) {
        if (dynamic) throw new Bad('has more than one PT_DYNAMIC')
        dynamic = { vaddr }
      } else if (pType === PT_INTERP) {
        if (interp) throw new Bad('has more than one PT_INTERP')
        interp = { vaddr, filesz }
      }
    }
    // The loader maps each PT_LOAD by whole pages, later ones over earlier ones: overlapping pages would make memory
    // hold other bytes than the file offsets computed below. No real file has them.
    const sorted = [...loads].sort((a, b) => a.vaddr - b.vaddr)
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!, cur = sorted[i]!
      const prevEnd = Math.ceil((prev.vaddr + prev.memsz) / pageSize) * pageSize
      if (prevEnd > Math.floor(cur.vaddr / pageSize) * pageSize) throw new Bad('has PT_LOAD segments that share a page')
    }
    /** The file offset of `len` bytes at virtual address `va`, and how many bytes its mapping holds from there. */
    const locate = (va: number): { off: number; room: number } => {
      for (const l of loads) {
        if (va >= l.vaddr && va < l.vaddr + l.filesz) return { off: l.offset + (va - l.vaddr), room: l.vaddr + l.filesz - va }
      }
      throw new Bad('names an address outside the bytes it maps from the file')
    }
    const string = (va: number, what: string): string => {
      const { off, room } = locate(va)
      const len = Math.min(room, MAX_STRING + 1)
      const b = read(off, len)
      const bytes = new Uint8Array(b.buffer, b.byteOffset, len)
      const nul = bytes.indexOf(0)
      if (nul < 0) throw new Bad(`has a ${what} of more than ${MAX_STRING} bytes, or one not ended in its mapping`)
      return Buffer.from(bytes.subarray(0, nul)).toString('latin1')
    }
    const elf: ElfDynamic = { type, header: header!, needed: [], runpath: [], rpath: [], audit: [], flags1: 0n, dynamic: dynamic !== undefined }
    if (interp) elf.interp = string(interp.vaddr, 'PT_INTERP')
    if (!dynamic) return { ok: true, elf }
    const ent = is64 ? 16 : 8
    const { off, room } = locate(dynamic.vaddr)
    const count = Math.min(Math.floor(room / ent), MAX_DYN)
    const dyn = read(off, count * ent)
    const strs: [bigint, bigint][] = []
    let strtab: bigint | undefined
    let ended = false
    for (let i = 0; i < count; i++) {
      const tag = is64 ? dyn.getBigInt64(i * ent, le) : BigInt(dyn.getInt32(i * ent, le))
      const val = is64 ? dyn.getBigUint64(i * ent + 8, le) : BigInt(dyn.getUint32(i * ent + 4, le))
      if (tag === DT_NULL) { ended = true; break }
      if (tag === DT_STRTAB) {
        if (strtab !== undefined) throw new Bad('has more than one DT_STRTAB')
        strtab = val
      } else if (tag === DT_FLAGS_1) {
        elf.flags1 = val
      } else if (LOADING_TAGS.has(tag)) {
        if (strs.length >= MAX_STRINGS) throw new Bad(`names more than ${MAX_STRINGS} libraries and paths`)
        strs.push([tag, val])
      }
    }
    if (!ended) throw new Bad(`has a dynamic section without DT_NULL in its first ${count} entries`)
    if (strs.length > 0 && strtab === undefined) throw new Bad('has DT_NEEDED or a search path but no DT_STRTAB')
    const filters: string[] = []
    for (const [tag, val] of strs) {
      const va = safe(strtab! + val, 'string address')
      const what = tag === DT_NEEDED ? 'DT_NEEDED' : tag === DT_RUNPATH ? 'DT_RUNPATH' : tag === DT_RPATH ? 'DT_RPATH'
        : tag === DT_AUDIT ? 'DT_AUDIT' : tag === DT_DEPAUDIT ? 'DT_DEPAUDIT' : tag === DT_SONAME ? 'DT_SONAME' : 'filter name'
      const s = string(va, what)
      if (tag === DT_NEEDED) elf.needed.push(s)
      else if (tag === DT_AUDIT || tag === DT_DEPAUDIT) elf.audit.push(s)
      else if (tag === DT_RUNPATH) elf.runpath.push(s)
      else if (tag === DT_RPATH) elf.rpath.push(s)
      else if (tag === DT_SONAME) {
        if (elf.soname !== undefined) throw new Bad('has more than one DT_SONAME')
        elf.soname = s
      }
      else filters.push(s)
    }
    elf.needed.push(...filters)
    return { ok: true, elf }
  } catch (e) {
    const problem = e instanceof Bad ? e.problem : `could not be read (${e instanceof Error ? e.message : String(e)})`
    return { ok: false, problem, ...(type === undefined ? {} : { type }), ...(header ? { header } : {}) }
  }
}

/** The file as read, and its ctime (nanoseconds) seen by fstat on the descriptor after the read. */
export type ElfFile = ElfRead & { ctimeNs?: bigint }

/**
 * Reads the pinned file from a descriptor checked to be that inode (opened following no symlink, without blocking:
 * a FIFO swapped in is never waited on), a regular file. Never throws.
 */
export function readElfFile(pin: PinnedPath): ElfFile {
  let fd: number
  try { fd = openSync(pin.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY) } catch {
    return { ok: false, problem: 'cannot be opened' }
  }
  try {
    return readElfDescriptor(fd, pin)
  } finally {
    closeSync(fd)
  }
}

/**
 * readElfFile on a descriptor the caller opened (and closes): the same checks (the pinned inode, a regular file) and
 * the same bounds.
 */
export function readElfDescriptor(fd: number, pin: PinnedPath): ElfFile {
  try {
    const st = fstatSync(fd, { bigint: true })
    if (String(st.dev) !== pin.dev || String(st.ino) !== pin.ino) return { ok: false, problem: 'is another file than the one checked' }
    if (!st.isFile()) return { ok: false, problem: 'is not a regular file' }
    const readAt: ReadAt = (offset, length) => {
      const b = Buffer.alloc(length)
      let got = 0
      while (got < length) {
        const n = readSync(fd, b, got, length - got, offset + got)
        if (n <= 0) return undefined
        got += n
      }
      return b
    }
    const r = parseElfDynamic(Number(st.size), readAt)
    let ctimeNs: bigint | undefined
    try { ctimeNs = fstatSync(fd, { bigint: true }).ctimeNs } catch { /* unknown */ }
    return ctimeNs === undefined ? r : { ...r, ctimeNs }
  } catch (e) {
    return { ok: false, problem: `could not be read (${e instanceof Error ? e.message : String(e)})` }
  }
}
