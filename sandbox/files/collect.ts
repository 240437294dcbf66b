/**
 * Takes the files a successful attempt left in its working dir (`outputFiles:` globs) into the blob store, reading a
 * directory the plugin controls without ever following a name it could have changed: every directory is opened with
 * O_DIRECTORY | O_NOFOLLOW relative to its parent's descriptor (`/proc/self/fd/<fd>/<name>`, an openat(2) for
 * node:fs), every file with O_NOFOLLOW | O_NONBLOCK (a FIFO cannot block the open), and the open descriptor must be
 * a regular file with one link. What is stored is what was read from that descriptor, hashed as it was read, never
 * more than the bound: a file grown, shrunk, renamed or replaced meanwhile cannot make the record disagree with the
 * bytes. A matching entry that is not a regular file fails the attempt (FILE_REFUSED), it is never skipped in
 * silence; limits fail it FILE_LIMIT_EXCEEDED. Either way no file of the attempt is recorded.
 */

import { constants } from 'node:fs'
import { lstat, open, readdir, type FileHandle } from 'node:fs/promises'
import { ErrorCode, type ErrorInfo } from '../../runtime/errors.ts'
import type { BlobStore } from '../../runtime/files/blob-store.ts'
import type { StoredFile } from '../../runtime/store/types.ts'

export interface CollectLimits {
  /** One file's bytes at most (config `storage.files.maxFileBytes`). */
  maxFileBytes: number
  /** Files one attempt may store (config `storage.files.maxFilesPerTask`). */
  maxFiles: number
  /** Bytes this attempt may still store before its execution passes `storage.files.maxExecutionBytes`. */
  remainingBytes: number
}

export type CollectResult = { ok: true; files: StoredFile[] } | { ok: false; error: ErrorInfo }

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY, O_NOCTTY } = constants
const FILE_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW
/** Bounds on the walk itself, whatever the plugin left: entries looked at, and directory depth. */
export const WALK_BOUNDS = { maxEntries: 10_000, maxDepth: 16 } as const
/**
 * The longest name a stored file can have: `maxDepth` segments of at most 255 bytes (the kernel's NAME_MAX) and the
 * slashes between them. Longer is refused (FILE_REFUSED) when taken, so every stored name can be asked for by the
 * download route (api/models/files.ts), whose bound is this one.
 */
export const MAX_STORED_NAME_BYTES = WALK_BOUNDS.maxDepth * 255 + WALK_BOUNDS.maxDepth - 1
const CHUNK = 1024 * 1024

class Refusal extends Error {
  constructor(readonly info: ErrorInfo) { super(info.message) }
}
const refused = (message: string, details: Record<string, unknown>) => new Refusal({ code: ErrorCode.FileRefused, message, details })
const tooMuch = (message: string, details: Record<string, unknown>) => new Refusal({ code: ErrorCode.FileLimitExceeded, message, details })

/**
 * Stores the files under `dir` whose path (relative, `/`-separated) matches one of `globs`, except the names in
 * `exclude` (what the engine placed there: the task's input files, the result file). Never throws.
 */
export async function collectOutputFiles(dir: string, globs: readonly string[], o: {
  store: BlobStore; limits: CollectLimits; exclude?: ReadonlySet<string>
}): Promise<CollectResult> {
  const matchers = globs.map((g) => new Bun.Glob(g))
  const matches = (rel: string) => matchers.some((m) => m.match(rel))
  const files: StoredFile[] = []
  const state = { entries: 0, bytes: 0 }
  const handles: FileHandle[] = []
  const openAt = async (parent: FileHandle | undefined, name: string, flags: number) => {
    const h = await open(parent ? `/proc/self/fd/${parent.fd}/${name}` : name, flags)
    handles.push(h)
    return h
  }

  const take = async (parent: FileHandle, name: string, rel: string): Promise<void> => {
    let fh: FileHandle
    try {
      fh = await openAt(parent, name, FILE_FLAGS)
    } catch (e) {
      const code = (e as { code?: string }).code
      if (code === 'ELOOP') throw refused(`output file ${rel} is a symbolic link (swapped in while it was read); refused`, { name: rel, kind: 'symlink' })
      throw refused(`output file ${rel} could not be opened (${code ?? 'error'}); refused`, { name: rel })
    }
    const st = await fh.stat()
    if (!st.isFile()) throw refused(`output file ${rel} is ${kindOf(st)} (swapped in while it was read); refused, it must be a regular file`, { name: rel })
    if (st.nlink !== 1) throw refused(`output file ${rel} has ${st.nlink} hard links; refused (it must have one)`, { name: rel, kind: 'hardlink' })
    if (files.length >= o.limits.maxFiles)
      throw tooMuch(`the task stores more than ${o.limits.maxFiles} files (storage.files.maxFilesPerTask)`, { limit: 'files', max: o.limits.maxFiles })
    const remaining = o.limits.remainingBytes - state.bytes
    const max = Math.min(o.limits.maxFileBytes, remaining)
    const overMessage = () => o.limits.maxFileBytes <= remaining
      ? tooMuch(`output file ${rel} is larger than ${o.limits.maxFileBytes} bytes (storage.files.maxFileBytes)`, { limit: 'file', name: rel, max: o.limits.maxFileBytes })
      : tooMuch(`output file ${rel} takes the execution's stored files past storage.files.maxExecutionBytes (${Math.max(0, remaining)} bytes were left)`, { limit: 'execution', name: rel, max: remaining })
    // The size is a hint: it refuses early, it never bounds the read.
    if (st.size > max) throw overMessage()
    const put = await o.store.put(readBounded(fh, max), max)
    if (!put.ok) throw overMessage()
    state.bytes += put.size
    files.push({ name: rel, sha256: put.sha256, size: put.size })
  }

  const walk = async (dirFh: FileHandle, prefix: string, depth: number): Promise<void> => {
    // Names as the kernel has them (bytes): read as strings, two names whose bytes differ can decode alike
    // (invalid UTF-8 becomes U+FFFD), and the one the engine opens is then not the one it listed (review 6).
    // (Bun's readdir gives no types with buffer names: each entry is lstat'ed, never followed, relative to the fd.)
    const raw = await readdir(`/proc/self/fd/${dirFh.fd}`, { encoding: 'buffer' })
    const entries = await Promise.all(raw.map(async (bytes) => {
      const name = plainName(bytes)
      const path = Buffer.concat([Buffer.from(`/proc/self/fd/${dirFh.fd}/`), bytes])
      const e = await lstat(path).catch(() => GONE)
      return { e, name }
    }))
    entries.sort((a, b) => (a.name.text < b.name.text ? -1 : a.name.text > b.name.text ? 1 : 0))
    for (const { e, name } of entries) {
      if (++state.entries > WALK_BOUNDS.maxEntries)
        throw tooMuch(`the working dir holds more than ${WALK_BOUNDS.maxEntries} entries; its output files were not looked for further`, { limit: 'entries', max: WALK_BOUNDS.maxEntries })
      const rel = prefix + name.text
      if (!name.plain) {
        // Never walked, never stored: a name that is not plain UTF-8 text is refused when an output glob takes it.
        if (!e.isDirectory() && matches(rel)) {
          throw refused(`output file ${JSON.stringify(rel)} has a name that is ${name.why}; refused (names must be UTF-8 without control characters)`, { name: rel, kind: 'name' })
        }
        continue
      }
      if (o.exclude?.has(rel)) continue
      if (e.isDirectory()) {
        if (depth + 1 >= WALK_BOUNDS.maxDepth) continue
        let sub: FileHandle
        try {
          sub = await openAt(dirFh, name.text, DIR_FLAGS)
        } catch (err) {
          // Swapped for a symlink or a file since it was listed: what is there now is not walked.
          throw refused(`directory ${rel} changed while its output files were looked for (${(err as { code?: string }).code ?? 'error'}); refused`, { name: rel })
        }
        await walk(sub, `${rel}/`, depth + 1)
        continue
      }
      if (!matches(rel)) continue
      if (Buffer.byteLength(rel) > MAX_STORED_NAME_BYTES) throw refused(`output file ${rel.slice(0, 64)}… has a name of ${Buffer.byteLength(rel)} bytes; refused (at most ${MAX_STORED_NAME_BYTES})`, { name: rel, kind: 'name' })
      if (e.isSymbolicLink()) throw refused(`output file ${rel} is a symbolic link; refused (only regular files are stored)`, { name: rel, kind: 'symlink' })
      if (!e.isFile()) throw refused(`output file ${rel} is ${direntKind(e)}; refused (only regular files are stored)`, { name: rel })
      if (taken.has(rel)) throw refused(`output file ${JSON.stringify(rel)} was listed twice; refused`, { name: rel, kind: 'name' })
      taken.add(rel)
      await take(dirFh, name.text, rel)
    }
  }
  const taken = new Set<string>()

  try {
    const root = await openAt(undefined, dir, DIR_FLAGS)
    await walk(root, '', 0)
    return { ok: true, files }
  } catch (e) {
    if (e instanceof Refusal) return { ok: false, error: e.info }
    return { ok: false, error: { code: ErrorCode.FileRefused, message: `the output files could not be read (${(e as { code?: string }).code ?? (e as Error).message})` } }
  } finally {
    for (const h of handles) await h.close().catch(() => undefined)
  }
}

/** An entry gone between the listing and its lstat: neither a directory nor a file, so refused if a glob takes it. */
const GONE = { isDirectory: () => false, isFile: () => false, isSymbolicLink: () => false, isFIFO: () => false, isSocket: () => false,
  isCharacterDevice: () => false, isBlockDevice: () => false }

const UTF8 = new TextDecoder('utf-8', { fatal: true })
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/

/**
 * A directory entry's name as text, and whether it is plain: valid UTF-8 (so the text names exactly those bytes
 * again) with no control character (a newline in a stored name would forge lines of `execution files` or of the
 * engine's own log line naming what it stored).
 */
function plainName(bytes: Buffer): { text: string; plain: boolean; why?: string } {
  let text: string
  try { text = UTF8.decode(bytes) } catch { return { text: bytes.toString('utf8'), plain: false, why: 'not valid UTF-8' } }
  if (CONTROL.test(text)) return { text, plain: false, why: 'holding a control character' }
  return { text, plain: true }
}

/** Reads at most `max + 1` bytes from the descriptor (one past the bound: `put` sees there was more). */
async function* readBounded(fh: FileHandle, max: number): AsyncGenerator<Uint8Array> {
  let pos = 0
  while (pos <= max) {
    const want = Math.min(CHUNK, max + 1 - pos)
    const buf = Buffer.allocUnsafe(want)
    const { bytesRead } = await fh.read(buf, 0, want, pos)
    if (bytesRead === 0) return
    pos += bytesRead
    yield bytesRead === want ? buf : buf.subarray(0, bytesRead)
  }
}

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  return st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() ? 'a character device'
    : st.isBlockDevice() ? 'a block device' : 'not a regular file'
}
const direntKind = kindOf
