/**
 * Reads the result file a plugin wrote, from a directory the plugin can write, without ever following a
 * path the plugin controls: the directory and the file are opened with O_NOFOLLOW (the file also with
 * O_NONBLOCK, so a FIFO or a leased file cannot block the open), the open descriptor must be a regular file
 * with one link, and at most `maxBytes + 1` bytes are read whatever its size says. Every step is
 * asynchronous and gives up when `signal` aborts, so the task's timeout and cancel keep working.
 *
 * A small result (the common case) is read synchronously first, with the same flags and checks: seven thread-pool
 * round trips (each a wake-up of a pool thread and of this one, ~50-80 µs in a VM) were ~0.5 ms of every fresh
 * attempt's critical path. Nothing in it can block: the open is non-blocking (a FIFO or a leased file cannot hold
 * it), a socket or a device is refused by its type before any read, and a regular file's read does not wait on
 * another process. A file larger than SYNC_MAX_BYTES, by its size or by what the read finds, goes the async way.
 */

import { closeSync, constants, existsSync, fstatSync, openSync, readSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import type { PluginResult } from '../sdk/protocol.ts'
import { checkJsonText, type JsonBounds } from './json-bounds.ts'

/** Why a result was not accepted. `too-large` and `too-deep` break a bound (INVALID_TASK_OUTPUT). */
export type ResultProblem = 'missing' | 'refused' | 'invalid' | 'too-large' | 'too-deep' | 'aborted'

export type ResultRead =
  | { ok: true; result: PluginResult }
  | { ok: false; problem: ResultProblem; message: string }

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY, O_NOCTTY } = constants
const FILE_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW
const CHUNK = 1024 * 1024
/** `/proc/self/fd/<dir fd>/<name>` resolves the name inside the directory we opened (an openat(2) for node:fs). */
const PROC_FD = existsSync('/proc/self/fd')

/** Reads, bounds and shape-checks the result at `path`. Never throws. */
export async function readResultFile(path: string, bounds: JsonBounds, signal?: AbortSignal): Promise<ResultRead> {
  if (signal?.aborted) return { ok: false, problem: 'aborted', message: 'reading the result was stopped' }
  const small = readSmallSync(path, bounds)
  if (small) return small
  const handles = new Handles()
  try {
    const file = await openResult(path, bounds.maxBytes, handles, signal)
    if (!file.ok) return file
    const text = await readCapped(file.handle, file.sizeHint, bounds.maxBytes, signal)
    if (!text.ok) return text
    const bad = checkJsonText(text.text, text.bytes, bounds)
    if (bad) return { ok: false, problem: bad.kind === 'depth' ? 'too-deep' : 'too-large', message: `the result file is ${bad.message}` }
    return parseResult(text.text)
  } catch (e) {
    if (e instanceof Aborted) return { ok: false, problem: 'aborted', message: 'reading the result was stopped' }
    return { ok: false, problem: 'invalid', message: `the result file could not be read (${codeOf(e) ?? 'error'})` }
  } finally {
    await handles.closeAll()
  }
}

/** Above this many bytes a result is read asynchronously (readResultFile). */
export const SYNC_MAX_BYTES = 64 * 1024

/**
 * The synchronous read of a small result: the same opens (no symlink, the directory too; non-blocking) and checks as
 * the async path, in the same order and with the same answers. Undefined when the file is larger than
 * SYNC_MAX_BYTES (then the async path reads it from the start).
 */
function readSmallSync(path: string, bounds: JsonBounds): ResultRead | undefined {
  const fds: number[] = []
  const opened = (p: string, flags: number): number => {
    const fd = openSync(p, flags)
    fds.push(fd)
    return fd
  }
  try {
    let target = path
    if (PROC_FD) {
      let dir: number
      try { dir = opened(dirname(path), DIR_FLAGS) } catch (e) { return openFailure(e, 'the result directory') as ResultRead }
      target = `/proc/self/fd/${dir}/${basename(path)}`
    }
    let fd: number
    try { fd = opened(target, FILE_FLAGS) } catch (e) { return openFailure(e, 'the result file') as ResultRead }
    const st = fstatSync(fd)
    if (!st.isFile() || st.nlink !== 1 || st.size > Math.min(bounds.maxBytes, SYNC_MAX_BYTES)) return undefined
    // Capped like readCapped: a read that finds more than SYNC_MAX_BYTES gives the file to the async path.
    const cap = Math.min(bounds.maxBytes, SYNC_MAX_BYTES) + 1
    const buf = Buffer.allocUnsafe(cap)
    let total = 0
    for (;;) {
      const n = readSync(fd, buf, total, cap - total, total)
      if (n === 0) break
      total += n
      if (total >= cap) return undefined
    }
    const text = buf.toString('utf8', 0, total)
    const bad = checkJsonText(text, total, bounds)
    if (bad) return { ok: false, problem: bad.kind === 'depth' ? 'too-deep' : 'too-large', message: `the result file is ${bad.message}` }
    return parseResult(text)
  } catch (e) {
    return { ok: false, problem: 'invalid', message: `the result file could not be read (${codeOf(e) ?? 'error'})` }
  } finally {
    for (const fd of fds) { try { closeSync(fd) } catch { /* closed */ } }
  }
}

type Opened = { ok: true; handle: FileHandle; sizeHint: number } | { ok: false; problem: ResultProblem; message: string }

async function openResult(path: string, max: number, handles: Handles, signal: AbortSignal | undefined): Promise<Opened> {
  let target = path
  if (PROC_FD) {
    // The directory itself may not be a symlink either (a plugin owning its temp dir could swap it for one).
    const dir = await guarded(open(dirname(path), DIR_FLAGS), signal, handles).catch((e: unknown) => e)
    if (!isHandle(dir)) return openFailure(dir, 'the result directory')
    target = `/proc/self/fd/${dir.fd}/${basename(path)}`
  }
  const file = await guarded(open(target, FILE_FLAGS), signal, handles).catch((e: unknown) => e)
  if (!isHandle(file)) return openFailure(file, 'the result file')
  const st = await guarded(file.stat(), signal)
  const kind = st.isFile() ? undefined : st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket'
    : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : 'not a regular file'
  if (kind) return { ok: false, problem: 'refused', message: `the result file is ${kind}; refused (it must be a regular file)` }
  if (st.nlink !== 1) return { ok: false, problem: 'refused', message: `the result file has ${st.nlink} hard links; refused (it must have one)` }
  // The size is only a hint: trusted to refuse early (a sparse file), never to bound the read.
  if (st.size > max) return { ok: false, problem: 'too-large', message: `the result file is larger than ${max} bytes` }
  return { ok: true, handle: file, sizeHint: st.size }
}

function openFailure(e: unknown, what: string): Opened {
  if (e instanceof Aborted) throw e
  switch (codeOf(e)) {
    case 'ENOENT': return { ok: false, problem: 'missing', message: 'the plugin wrote no result file' }
    case 'ELOOP': return { ok: false, problem: 'refused', message: `${what} is a symbolic link; refused` }
    case 'ENOTDIR': return { ok: false, problem: 'refused', message: `${what} is not a directory; refused` }
    case 'ENXIO': return { ok: false, problem: 'refused', message: `${what} is a socket; refused (it must be a regular file)` }
    case 'EAGAIN': case 'EWOULDBLOCK': return { ok: false, problem: 'refused', message: `${what} is held by another process; refused` }
    default: return { ok: false, problem: 'refused', message: `${what} could not be opened (${codeOf(e) ?? 'error'}); refused` }
  }
}

/** Reads at most `max + 1` bytes, whatever the file claims to hold. */
async function readCapped(h: FileHandle, sizeHint: number, max: number, signal: AbortSignal | undefined):
  Promise<{ ok: true; text: string; bytes: number } | { ok: false; problem: ResultProblem; message: string }> {
  const chunks: Buffer[] = []
  let total = 0
  // An honest file is read in one call (its size plus one byte, to see the end) and one more that returns 0.
  let next = Math.min(Math.max(sizeHint + 1, 4096), CHUNK)
  for (;;) {
    const want = Math.min(next, max + 1 - total)
    next = CHUNK
    const buf = Buffer.allocUnsafe(want)
    const { bytesRead } = await guarded(h.read(buf, 0, want, total), signal)
    if (bytesRead === 0) break
    chunks.push(bytesRead === want ? buf : buf.subarray(0, bytesRead))
    total += bytesRead
    if (total > max) return { ok: false, problem: 'too-large', message: `the result file is larger than ${max} bytes` }
  }
  const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total)
  return { ok: true, text: all.toString('utf8'), bytes: total }
}

function parseResult(text: string): ResultRead {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return { ok: false, problem: 'invalid', message: 'the result file is not valid JSON' }
  }
  if (typeof parsed === 'object' && parsed !== null) {
    const r = parsed as { ok?: unknown; output?: unknown; error?: { message?: unknown; code?: unknown } }
    if (r.ok === true) return { ok: true, result: { ok: true, output: r.output ?? null } }
    if (r.ok === false && typeof r.error?.message === 'string' && (r.error.code === undefined || typeof r.error.code === 'string'))
      return { ok: true, result: parsed as PluginResult }
  }
  return { ok: false, problem: 'invalid', message: 'the result file is not {ok:true,output} or {ok:false,error:{message}}' }
}

class Aborted extends Error {}

/** The descriptors one read opened; one that arrives after the read gave up (aborted) is closed at once. */
class Handles {
  private readonly open: FileHandle[] = []
  private done = false
  track(h: FileHandle): void {
    if (this.done) void h.close().catch(() => undefined)
    else this.open.push(h)
  }
  async closeAll(): Promise<void> {
    this.done = true
    for (const h of this.open.splice(0)) await h.close().catch(() => undefined)
  }
}

/** Races `p` against `signal`; a handle `p` yields is tracked in `handles` whenever it arrives, so none leaks. */
function guarded<T>(p: Promise<T>, signal: AbortSignal | undefined, handles?: Handles): Promise<T> {
  if (handles) p.then((v) => { if (isHandle(v)) handles.track(v) }, () => undefined)
  if (!signal) return p
  if (signal.aborted) return Promise.reject(new Aborted())
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Aborted())
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v) },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e) },
    )
  })
}

const isHandle = (v: unknown): v is FileHandle => typeof v === 'object' && v !== null && typeof (v as FileHandle).fd === 'number' && typeof (v as FileHandle).close === 'function'
const codeOf = (e: unknown): string | undefined => (typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : undefined)
