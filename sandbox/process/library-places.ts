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

/** One entry of an ld.so.cache: the name a library is looked up by, the loader's flags and hwcap word, its path. */
export interface LdCacheEntry { name: string; flags: number; hwcap: bigint; path: string }

/**
 * The entries of an ld.so.cache (its new format, alone or after the old one, as glibc reads it: the new header at the
 * 8-aligned end of the old table; string offsets from the new header), in the cache's order. Bounded; never throws: a
 * cache it cannot read yields [] (then only the default directories count, and no library is found through it).
 */
export function parseLdCacheEntries(buf: Uint8Array): LdCacheEntry[] {
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
  const str = (off: number): string | undefined => {
    const at = base + off
    if (at >= b.length) return undefined
    const end = b.indexOf(0, at)
    return end < 0 || end - at > 4096 ? undefined : b.toString('latin1', at, end)
  }
  const out: LdCacheEntry[] = []
  for (let i = 0; i < n; i++) {
    const e = base + 48 + i * 24
    const name = str(b.readUInt32LE(e + 4)), path = str(b.readUInt32LE(e + 8))
    if (name === undefined || path === undefined) return []
    out.push({ name, flags: b.readInt32LE(e), hwcap: b.readBigUInt64LE(e + 16), path })
  }
  return out
}

/** The library paths an ld.so.cache lists (absolute ones), in its order. */
export function parseLdCache(buf: Uint8Array): string[] {
  return parseLdCacheEntries(buf).map((e) => e.path).filter((p) => p.startsWith('/'))
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
    let st
    try { st = lstatSync(d, { throwIfNoEntry: false }) } catch { return false }
    if (!st || !st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) return false
    if (d === '/') return true
  }
}

const canonical = (p: string): string | undefined => { try { return realpathSync.native(p) } catch { return undefined } }

/** The system library directories and the cache's entries, with the identity of the cache they were read from. */
export interface SystemLibraries { id: string; dirs: ReadonlySet<string>; cache: readonly LdCacheEntry[] }

let cached: SystemLibraries | undefined

/**
 * The system library directories (canonical, root-held), with the identity of the cache they were read from (for the
 * caller's own cache key). Re-read when /etc/ld.so.cache changes.
 */
export function systemLibraryDirs(): SystemLibraries {
  const file = readRootFile(LD_CACHE, cached?.id)
  const id = file?.id ?? 'none'
  if (cached && cached.id === id) return cached
  const dirs = new Set<string>()
  const add = (d: string | undefined): void => { if (d && !dirs.has(d) && rootHeld(d)) dirs.add(d) }
  for (const d of DEFAULT_LIBRARY_DIRS) add(canonical(d))
  const cache = file?.bytes ? parseLdCacheEntries(file.bytes) : []
  for (const { path: p } of cache) {
    if (!p.startsWith('/')) continue
    add(canonical(dirname(p)))
    const real = canonical(p)
    if (real) add(dirname(real))
  }
  cached = { id, dirs, cache }
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
