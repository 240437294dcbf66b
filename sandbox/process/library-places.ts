/**
 * Where a launch may take a shared library from. An ELF file may name any shared object on the host plainly (an
 * absolute DT_NEEDED, a RUNPATH into another service's library directory, `$ORIGIN/../..`), so a library the loader
 * maps is granted only from a place that is not the file's author's to choose:
 * - a **system library directory**: the loader's default ones and the directories of the entries of the root-owned
 *   `/etc/ld.so.cache` (as listed and as their symlinks resolve: `update-alternatives` links there), each counted
 *   only when it, and every directory above it, is root's and writable by no one else;
 * - the **plugin's own directory** (already readable to it).
 * Judged by the library's canonical path: a symlink in either place leading elsewhere is judged where it leads.
 */

import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync } from 'node:fs'
import { dirname } from 'node:path'

/** The loader's default search directories (x86-64 glibc, with the Debian multiarch ones). */
export const DEFAULT_LIBRARY_DIRS = ['/lib', '/usr/lib', '/lib64', '/usr/lib64', '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu']

export const LD_CACHE = '/etc/ld.so.cache'
/** At most this much of the cache is read, and at most this many entries (a real one: a few thousand). */
export const MAX_CACHE_BYTES = 16 << 20
export const MAX_CACHE_ENTRIES = 65536

const NEW_MAGIC = 'glibc-ld.so.cache1.1'
const OLD_MAGIC = 'ld.so-1.7.0'

/**
 * The library paths an ld.so.cache lists (its new format, alone or after the old one, as glibc reads it: the new
 * header at the 8-aligned end of the old table; string offsets from the new header). Bounded; never throws: a cache
 * it cannot read yields [] (then only the default directories count).
 */
export function parseLdCache(buf: Uint8Array): string[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  let base = 0
  if (b.length >= 16 && b.toString('latin1', 0, OLD_MAGIC.length) === OLD_MAGIC) {
    const oldN = b.readUInt32LE(12)
    if (oldN > MAX_CACHE_ENTRIES) return []
    base = Math.ceil((16 + oldN * 12) / 8) * 8
  }
  if (base + 48 > b.length || b.toString('latin1', base, base + NEW_MAGIC.length) !== NEW_MAGIC) return []
  const n = b.readUInt32LE(base + 20)
  if (n > MAX_CACHE_ENTRIES || base + 48 + n * 24 > b.length) return []
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const value = base + b.readUInt32LE(base + 48 + i * 24 + 8)
    if (value >= b.length) return []
    const end = b.indexOf(0, value)
    if (end < 0 || end - value > 4096) return []
    const p = b.toString('latin1', value, end)
    if (p.startsWith('/')) out.push(p)
  }
  return out
}

/**
 * The cache's identity, and its bytes unless that identity is `known`, when it is a regular file of root's that no one
 * else may write; undefined otherwise.
 */
function readRootFile(path: string, known: string | undefined): { bytes?: Buffer; id: string } | undefined {
  let fd: number
  try { fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK) } catch { return undefined }
  try {
    const st = fstatSync(fd, { bigint: true })
    if (!st.isFile() || st.uid !== 0n || (st.mode & 0o022n) !== 0n || st.size > BigInt(MAX_CACHE_BYTES)) return undefined
    const id = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`
    if (id === known) return { id }
    const bytes = Buffer.alloc(Number(st.size))
    let got = 0
    while (got < bytes.length) {
      const r = readSync(fd, bytes, got, bytes.length - got, got)
      if (r <= 0) break
      got += r
    }
    return { bytes: bytes.subarray(0, got), id }
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}

/** Whether the canonical directory `dir`, and every directory above it, is root's and writable by no one else. */
export function rootHeld(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    const st = lstatSync(d, { throwIfNoEntry: false })
    if (!st || !st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) return false
    if (d === '/') return true
  }
}

const canonical = (p: string): string | undefined => { try { return realpathSync.native(p) } catch { return undefined } }

let cached: { id: string; dirs: ReadonlySet<string> } | undefined

/**
 * The system library directories (canonical, root-held), with the identity of the cache they were read from (for the
 * caller's own cache key). Re-read when /etc/ld.so.cache changes.
 */
export function systemLibraryDirs(): { id: string; dirs: ReadonlySet<string> } {
  const file = readRootFile(LD_CACHE, cached?.id)
  const id = file?.id ?? 'none'
  if (cached && cached.id === id) return cached
  const dirs = new Set<string>()
  const add = (d: string | undefined): void => { if (d && !dirs.has(d) && rootHeld(d)) dirs.add(d) }
  for (const d of DEFAULT_LIBRARY_DIRS) add(canonical(d))
  for (const p of file?.bytes ? parseLdCache(file.bytes) : []) {
    add(canonical(dirname(p)))
    const real = canonical(p)
    if (real) add(dirname(real))
  }
  cached = { id, dirs }
  return cached
}

/**
 * Why the library at canonical path `lib` may not be granted, or undefined when it may: it lies in a system library
 * directory (`dirs`), or inside `ownDir` (the plugin's canonical directory).
 */
export function libraryPlaceProblem(lib: string, ownDir: string | undefined, dirs: ReadonlySet<string>): string | undefined {
  if (dirs.has(dirname(lib))) return undefined
  if (ownDir !== undefined && ownDir !== '/' && lib.startsWith(`${ownDir}/`)) return undefined
  return `lies neither in a system library directory (the loader's default ones, or one of /etc/ld.so.cache, root's) nor inside the plugin's directory${ownDir ? ` ${ownDir}` : ''}`
}
