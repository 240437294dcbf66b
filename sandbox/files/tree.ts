/**
 * Directories between tasks (docs/files.md#directories): a tree an attempt left in its working dir, kept as ONE blob
 * of the files store, and placed again, whole, in a later attempt's working dir.
 *
 * The blob is the engine's own stream format, written and read only here: a first line `autokestra-tree/1`, then per
 * entry a JSON line `{"t":"d"|"f","p":"<path>","s":<bytes>,"x":<executable>}` and, for a file, its bytes — parents
 * before their children, depth first. Packing reads the plugin's directory as collect.ts does (every directory
 * O_DIRECTORY | O_NOFOLLOW relative to its parent's descriptor, every file O_NOFOLLOW | O_NONBLOCK, a regular file with
 * one link, names plain UTF-8); a symbolic link, FIFO, socket or device inside the tree is skipped and listed, never
 * followed or stored (most repositories hold a symlink or two; refusing the tree for one would refuse them).
 * Placing re-checks every path (one plain segment per level, no `.`/`..`) and creates each entry with O_EXCL |
 * O_NOFOLLOW (mkdir for a directory, which never follows) relative to the descriptor of a directory it made itself,
 * so nothing in the working dir can redirect a write. Read-only (default): owned by the engine, files 0444 (0555 when
 * executable), directories 0555. Writable (`writableInputs: true`): owned by the attempt's uid, 0644/0755.
 */
import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { lstat, mkdir, open, readdir, type FileHandle } from 'node:fs/promises'
import { AppError, ErrorCode, type ErrorInfo } from '../../runtime/errors.ts'
import type { BlobStore } from '../../runtime/files/blob-store.ts'
import type { StoredFile } from '../../runtime/store/types.ts'
import { WALK_BOUNDS, type CollectLimits } from './collect.ts'

const MAGIC = 'autokestra-tree/1\n'
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY, O_NOCTTY } = constants
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW
const FILE_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY
const CHUNK = 1024 * 1024
/** A directory output's name: one segment, as an input file's (runtime/workflow/tasks/files.ts PLACED_NAME). */
export const TREE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/
/** What a tree is stored under in `task_files`: its directory name and a slash (no collected file's name ends so). */
export const treeFileName = (dir: string): string => `${dir}/`
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/
const UTF8 = new TextDecoder('utf-8', { fatal: true })

interface Entry { t: 'd' | 'f'; p: string; s: number; x: boolean }
/** A tree to place: where (one segment of the working dir) and its blob. */
export interface PlacedTree { name: string; sha256: string; size: number }
export type PackResult = { ok: true; file: StoredFile; skipped: string[]; entries: number } | { ok: false; error: ErrorInfo }

class Refusal extends Error { constructor(readonly info: ErrorInfo) { super(info.message) } }
const refused = (message: string, details: Record<string, unknown>) => new Refusal({ code: ErrorCode.FileRefused, message, details })
const tooMuch = (message: string, details: Record<string, unknown>) => new Refusal({ code: ErrorCode.FileLimitExceeded, message, details })

const segmentOk = (s: string): boolean => s !== '' && s !== '.' && s !== '..' && !s.includes('/') && !CONTROL.test(s) && Buffer.byteLength(s) <= 255

/** Packs `<dir>/<name>` into one blob; never throws. The tree's bytes count against the file and execution bounds. */
export async function packTree(dir: string, name: string, o: { store: BlobStore; limits: CollectLimits }): Promise<PackResult> {
  if (!TREE_NAME.test(name)) return { ok: false, error: { code: ErrorCode.FileRefused, message: `output directory "${name}" is not one plain path segment`, details: { name } } }
  const handles: FileHandle[] = []
  const skipped: string[] = []
  let entries = 0
  const openAt = async (parent: FileHandle | undefined, n: string, flags: number) => {
    const h = await open(parent ? `/proc/self/fd/${parent.fd}/${n}` : n, flags)
    handles.push(h)
    return h
  }
  const max = Math.min(o.limits.maxFileBytes, o.limits.remainingBytes)
  async function* walk(dirFh: FileHandle, prefix: string, depth: number): AsyncGenerator<Uint8Array> {
    const raw = await readdir(`/proc/self/fd/${dirFh.fd}`, { encoding: 'buffer' })
    const names: string[] = []
    for (const bytes of raw) {
      let text: string
      try { text = UTF8.decode(bytes) } catch { throw refused(`an entry of directory ${prefix || '.'} has a name that is not valid UTF-8; refused`, { name: prefix, kind: 'name' }) }
      if (!segmentOk(text)) throw refused(`${JSON.stringify(prefix + text)} has a name holding a control character; refused`, { name: prefix + text, kind: 'name' })
      names.push(text)
    }
    names.sort()
    for (const n of names) {
      if (++entries > WALK_BOUNDS.maxEntries) throw tooMuch(`output directory ${name} holds more than ${WALK_BOUNDS.maxEntries} entries`, { limit: 'entries', max: WALK_BOUNDS.maxEntries })
      const rel = prefix + n
      const st = await lstat(`/proc/self/fd/${dirFh.fd}/${n}`).catch(() => undefined)
      if (!st) continue
      if (st.isDirectory()) {
        if (depth + 1 > WALK_BOUNDS.maxDepth) throw tooMuch(`output directory ${name} is deeper than ${WALK_BOUNDS.maxDepth} levels (${rel})`, { limit: 'depth', max: WALK_BOUNDS.maxDepth })
        const sub = await openAt(dirFh, n, DIR_FLAGS).catch((e: unknown) => { throw refused(`directory ${rel} changed while it was read (${(e as { code?: string }).code ?? 'error'}); refused`, { name: rel }) })
        yield line({ t: 'd', p: rel, s: 0, x: false })
        yield* walk(sub, `${rel}/`, depth + 1)
        continue
      }
      if (!st.isFile()) { skipped.push(`${rel} (${st.isSymbolicLink() ? 'symlink' : 'special file'})`); continue }
      const fh = await openAt(dirFh, n, FILE_FLAGS).catch((e: unknown) => { throw refused(`${rel} could not be opened (${(e as { code?: string }).code ?? 'error'}); refused`, { name: rel }) })
      const fst = await fh.stat()
      if (!fst.isFile()) throw refused(`${rel} was swapped for another kind of file while it was read; refused`, { name: rel })
      if (fst.nlink !== 1) throw refused(`${rel} has ${fst.nlink} hard links; refused (it must have one)`, { name: rel, kind: 'hardlink' })
      if (fst.size > max) throw overBound(rel)
      yield line({ t: 'f', p: rel, s: fst.size, x: (fst.mode & 0o111) !== 0 })
      let pos = 0
      while (pos < fst.size) {
        const want = Math.min(CHUNK, fst.size - pos)
        const buf = Buffer.allocUnsafe(want)
        const { bytesRead } = await fh.read(buf, 0, want, pos)
        if (bytesRead === 0) throw refused(`${rel} shrank while it was read; refused`, { name: rel })
        pos += bytesRead
        yield buf.subarray(0, bytesRead)
      }
      await fh.close()
    }
    // Closed once walked: a deep or wide tree never holds more descriptors than its depth.
    await dirFh.close()
  }
  const overBound = (rel: string) => o.limits.maxFileBytes <= o.limits.remainingBytes
    ? tooMuch(`output directory ${name} is larger than ${o.limits.maxFileBytes} bytes (storage.files.maxFileBytes; at ${rel})`, { limit: 'file', name, max: o.limits.maxFileBytes })
    : tooMuch(`output directory ${name} takes the execution's stored files past storage.files.maxExecutionBytes (${Math.max(0, o.limits.remainingBytes)} bytes were left)`, { limit: 'execution', name, max: o.limits.remainingBytes })
  try {
    const root = await openAt(undefined, dir, DIR_FLAGS)
    const top = await openAt(root, name, DIR_FLAGS).catch(() => { throw refused(`output directory ${name} is not a directory of the working dir`, { name }) })
    async function* stream(): AsyncGenerator<Uint8Array> {
      yield Buffer.from(MAGIC)
      yield* walk(top, '', 0)
    }
    const put = await o.store.put(stream(), max)
    if (!put.ok) throw overBound(name)
    return { ok: true, file: { name: treeFileName(name), sha256: put.sha256, size: put.size }, skipped, entries }
  } catch (e) {
    if (e instanceof Refusal) return { ok: false, error: e.info }
    return { ok: false, error: { code: ErrorCode.FileRefused, message: `output directory ${name} could not be read (${(e as { code?: string }).code ?? (e as Error).message})` } }
  } finally {
    for (const h of handles) await h.close().catch(() => undefined)
  }
}

const line = (e: Entry): Uint8Array => Buffer.from(`${JSON.stringify(e)}\n`)

/** Who owns a writable copy (the attempt's uid); absent: the engine keeps it, read-only. */
export interface TreeOwner { uid: number; gid: number }

/** Places each tree in `dir`; undefined when all are there, else why not (the attempt must not start). */
export async function placeTrees(dir: string, trees: readonly PlacedTree[], store: BlobStore, owner?: TreeOwner): Promise<ErrorInfo | undefined> {
  for (const t of trees) {
    const bad = await placeTree(dir, t, store, owner)
    if (bad) return bad
  }
  return undefined
}

/** A stored tree that is not what the engine wrote: a wrong first line, a bad entry, a short stream, a digest mismatch. */
class Malformed extends Error {}

type TreePiece = { e: Entry } | { data: Buffer }

/**
 * The entries of a stored tree, in order, each file's entry followed by its bytes (as pieces, exactly `s` in all);
 * throws Malformed when the stream is not a tree the engine wrote, or does not match `t`'s digest and size (checked at
 * its end: a consumer keeps nothing it got from a tree that then fails).
 */
async function* readTree(source: AsyncIterable<Uint8Array>, t: { sha256: string; size: number }): AsyncGenerator<TreePiece> {
  const hash = createHash('sha256')
  let size = 0
  let buf: Buffer = Buffer.alloc(0)
  let left = 0
  let magic = false
  for await (const chunk of source) {
    hash.update(chunk)
    size += chunk.byteLength
    buf = buf.length ? Buffer.concat([buf, chunk]) : Buffer.from(chunk)
    for (;;) {
      if (left > 0) {
        const n = Math.min(left, buf.length)
        if (n === 0) break
        left -= n
        const data = buf.subarray(0, n)
        buf = buf.subarray(n)
        yield { data }
        continue
      }
      const nl = buf.indexOf(0x0a)
      if (nl < 0) { if (buf.length > 8192) throw new Malformed('its stored tree is malformed (an over-long entry)'); break }
      const text = buf.subarray(0, nl + 1).toString('utf8')
      buf = buf.subarray(nl + 1)
      if (!magic) { if (text !== MAGIC) throw new Malformed('its stored content is not a tree'); magic = true; continue }
      const e = parseEntry(text)
      if (!e) throw new Malformed('its stored tree is malformed (an entry)')
      left = e.t === 'f' ? e.s : 0
      yield { e }
    }
  }
  if (left > 0 || buf.length || !magic) throw new Malformed('its stored tree ends early')
  if (hash.digest('hex') !== t.sha256 || size !== t.size) throw new Malformed('the stored content does not match its digest')
}

async function placeTree(dir: string, t: PlacedTree, store: BlobStore, owner: TreeOwner | undefined): Promise<ErrorInfo | undefined> {
  const fail = (message: string): ErrorInfo => ({ code: ErrorCode.FileNotFound, message: `input directory ${t.name}: ${message}`, details: { name: t.name } })
  if (!TREE_NAME.test(t.name)) return fail('not one plain path segment')
  const fileMode = (x: boolean) => (owner ? (x ? 0o755 : 0o644) : (x ? 0o555 : 0o444))
  const dirMode = owner ? 0o755 : 0o555
  // Open directories, innermost last: an entry's parent must be one of them (the packer writes depth first).
  const stack: { path: string; fh: FileHandle }[] = []
  const closeTop = async () => {
    const d = stack.pop()!
    if (owner) await d.fh.chown(owner.uid, owner.gid)
    await d.fh.chmod(dirMode)
    await d.fh.close()
  }
  const finishFile = async (fh: FileHandle, x: boolean) => {
    if (owner) await fh.chown(owner.uid, owner.gid)
    await fh.chmod(fileMode(x))
    await fh.close()
  }
  const makeDir = async (parent: FileHandle, name: string, path: string) => {
    const at = `/proc/self/fd/${parent.fd}/${name}`
    await mkdir(at, { mode: 0o700 })
    stack.push({ path, fh: await open(at, DIR_FLAGS) })
  }
  let base: FileHandle | undefined
  let file: { fh: FileHandle; left: number; x: boolean } | undefined
  try {
    const source = await store.get(t.sha256)
    if (!source) return fail(`its content (sha256 ${t.sha256}) is no longer stored`)
    base = await open(dir, DIR_FLAGS)
    await makeDir(base, t.name, '')
    for await (const piece of readTree(source, t)) {
      if ('data' in piece) {
        let off = 0
        while (off < piece.data.length) off += (await file!.fh.write(piece.data, off, piece.data.length - off)).bytesWritten
        file!.left -= piece.data.length
        if (file!.left === 0) { await finishFile(file!.fh, file!.x); file = undefined }
        continue
      }
      const { e } = piece
      const cut = e.p.lastIndexOf('/')
      const parentPath = cut < 0 ? '' : e.p.slice(0, cut)
      const leaf = e.p.slice(cut + 1)
      while (stack.length > 1 && stack[stack.length - 1]!.path !== parentPath) await closeTop()
      const parent = stack[stack.length - 1]!
      if (parent.path !== parentPath) return fail(`its stored tree is malformed (${e.p} outside the directory being written)`)
      if (e.t === 'd') { await makeDir(parent.fh, leaf, e.p); continue }
      // Held in `file` from its open on, so `finally` closes it however placing stops (review 9: a descriptor leaked).
      file = { fh: await open(`/proc/self/fd/${parent.fh.fd}/${leaf}`, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600), left: e.s, x: e.x }
      if (e.s === 0) { await finishFile(file.fh, file.x); file = undefined }
    }
    while (stack.length) await closeTop()
    return undefined
  } catch (e) {
    if (e instanceof Malformed) return fail(e.message)
    const code = (e as { code?: string }).code
    return { code: ErrorCode.SandboxUnavailable, message: `input directory ${t.name} could not be placed in the working dir (${code ?? (e as Error).message})`, details: { name: t.name } }
  } finally {
    await file?.fh.close().catch(() => undefined)
    for (const d of stack) await d.fh.close().catch(() => undefined)
    await base?.close().catch(() => undefined)
  }
}

/**
 * One file of a stored tree, by its path inside the tree (`package.json`, `app/bun.lock`), for the engine's own use
 * before an attempt (core/script.run's install reads the project it is about to place, never the copy a task could
 * write); undefined when the tree has no such regular file; FILE_NOT_FOUND when the tree is gone or malformed, and
 * INVALID_TASK_INPUT past `maxBytes`.
 */
export async function readTreeFile(store: BlobStore, t: PlacedTree, path: string, maxBytes: number): Promise<Uint8Array | undefined> {
  const source = await store.get(t.sha256)
  if (!source) throw new AppError(ErrorCode.FileNotFound, `input directory ${t.name}: its content (sha256 ${t.sha256}) is no longer stored`, { name: t.name })
  let found: Buffer[] | undefined
  let taking = false
  try {
    for await (const piece of readTree(source, t)) {
      if ('e' in piece) {
        taking = piece.e.t === 'f' && piece.e.p === path
        if (taking) {
          if (piece.e.s > maxBytes) throw new AppError(ErrorCode.InvalidTaskInput, `${t.name}/${path} is larger than ${maxBytes} bytes`, { name: t.name, path })
          found = []
        }
      } else if (taking) found!.push(piece.data)
    }
  } catch (e) {
    if (e instanceof Malformed) throw new AppError(ErrorCode.FileNotFound, `input directory ${t.name}: ${e.message}`, { name: t.name })
    throw e
  }
  return found && new Uint8Array(Buffer.concat(found))
}

function parseEntry(text: string): Entry | undefined {
  let v: unknown
  try { v = JSON.parse(text) } catch { return undefined }
  const e = v as Entry
  if (typeof v !== 'object' || v === null || (e.t !== 'd' && e.t !== 'f') || typeof e.p !== 'string' || typeof e.x !== 'boolean') return undefined
  if (!Number.isSafeInteger(e.s) || e.s < 0 || (e.t === 'd' && e.s !== 0)) return undefined
  const segs = e.p.split('/')
  if (segs.length > WALK_BOUNDS.maxDepth + 1 || !segs.every(segmentOk)) return undefined
  return e
}

/**
 * After a success: the trees the action's output names (AttemptFiles.outputDirs), each packed from the working dir,
 * within what the attempt's other files left of the bounds. A field whose value is not a string names nothing.
 */
export async function collectTrees(dir: string, output: unknown, fields: readonly string[], o: {
  store: BlobStore; limits: CollectLimits; taken: readonly StoredFile[]; onSkipped(line: string): void
}): Promise<{ ok: true; files: StoredFile[] } | { ok: false; error: ErrorInfo }> {
  const files: StoredFile[] = []
  const out = output !== null && typeof output === 'object' && !Array.isArray(output) ? (output as Record<string, unknown>) : {}
  let used = o.taken.reduce((n, f) => n + f.size, 0)
  for (const field of fields) {
    const name = out[field]
    if (typeof name !== 'string' || files.some((f) => f.name === treeFileName(name))) continue
    if (o.taken.length + files.length >= o.limits.maxFiles)
      return { ok: false, error: { code: ErrorCode.FileLimitExceeded, message: `the task stores more than ${o.limits.maxFiles} files (storage.files.maxFilesPerTask)`, details: { limit: 'files', max: o.limits.maxFiles } } }
    const r = await packTree(dir, name, { store: o.store, limits: { ...o.limits, remainingBytes: o.limits.remainingBytes - used } })
    if (!r.ok) return r
    if (r.skipped.length) o.onSkipped(`directory ${name}: ${r.skipped.length} entr${r.skipped.length === 1 ? 'y' : 'ies'} not kept (only regular files and directories are): ${r.skipped.slice(0, 20).join(', ')}${r.skipped.length > 20 ? ', …' : ''}`)
    used += r.file.size
    files.push(r.file)
  }
  return { ok: true, files }
}
