/**
 * The local blob store: `<dir>/sha256/<first two hex digits>/<digest>`, files 0400 in private directories (0700),
 * owned by the engine. A put streams into a fresh file in `<dir>/incoming/` (O_EXCL, 0600), hashing as it writes,
 * fsyncs it, and renames it into place (an existing blob wins: same digest, same bytes); a put that goes past its
 * bound removes its incoming file. Nothing a plugin controls is ever a path here: only digests, checked.
 */

import { createHash, randomBytes } from 'node:crypto'
import { closeSync, constants, mkdirSync, open as openFd, read as readFd } from 'node:fs'
import { chmod, lstat, mkdir, open, readdir, rename, unlink, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { AppError, ErrorCode } from '../errors.ts'
import { SHA256_PATTERN, type BlobStore, type PutResult, type Sha256 } from './blob-store.ts'

const DIR_MODE = 0o700

export function createLocalBlobStore(dir: string): BlobStore {
  const blobs = join(dir, 'sha256')
  const incoming = join(dir, 'incoming')
  mkdirSync(blobs, { recursive: true, mode: DIR_MODE })
  mkdirSync(incoming, { recursive: true, mode: DIR_MODE })
  const pathOf = (sha: Sha256): string => {
    if (!SHA256_PATTERN.test(sha)) throw new AppError(ErrorCode.InvalidInput, 'not a sha256 digest')
    return join(blobs, sha.slice(0, 2), sha)
  }
  return {
    kind: 'local',
    async put(source, maxBytes): Promise<PutResult> {
      const tmp = join(incoming, randomBytes(12).toString('hex'))
      const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
      const hash = createHash('sha256')
      let size = 0
      let kept = false
      try {
        for await (const chunk of source) {
          size += chunk.byteLength
          if (size > maxBytes) return { ok: false, reason: 'too-large', maxBytes }
          hash.update(chunk)
          let off = 0
          while (off < chunk.byteLength) off += (await fh.write(chunk, off, chunk.byteLength - off)).bytesWritten
        }
        await fh.sync()
        await fh.chmod(0o400)
        const sha256 = hash.digest('hex')
        const target = pathOf(sha256)
        await mkdir(join(blobs, sha256.slice(0, 2)), { recursive: true, mode: DIR_MODE })
        const there = await lstat(target).then((st) => st.isFile(), () => false)
        // A blob found there is touched: a garbage collection spares what was stored (or found) recently, so a file
        // whose row is about to be committed keeps its content.
        if (there) await utimes(target, new Date(), new Date()).catch(() => undefined)
        if (!there) {
          await rename(tmp, target)
          kept = true
          const d = await open(join(blobs, sha256.slice(0, 2)), constants.O_RDONLY | constants.O_DIRECTORY)
          await d.sync().finally(() => d.close())
        }
        return { ok: true, sha256, size }
      } finally {
        await fh.close().catch(() => undefined)
        if (!kept) await unlink(tmp).catch(() => undefined)
      }
    },
    async get(sha256) {
      const p = pathOf(sha256)
      const fd = await new Promise<number | undefined>((resolve) => openFd(p, constants.O_RDONLY | constants.O_NOFOLLOW, (e, n) => resolve(e ? undefined : n)))
      if (fd === undefined) return undefined
      return readStream(fd)
    },
    async stat(sha256) {
      const st = await lstat(pathOf(sha256)).catch(() => undefined)
      return st?.isFile() ? { size: st.size, storedAt: st.mtimeMs } : undefined
    },
    async delete(sha256) {
      const p = pathOf(sha256)
      try {
        await chmod(p, 0o600).catch(() => undefined)
        await unlink(p)
        return true
      } catch {
        return false
      }
    },
    async *list() {
      for (const sub of await readdir(blobs).catch(() => [] as string[])) {
        if (!/^[0-9a-f]{2}$/.test(sub)) continue
        for (const name of await readdir(join(blobs, sub)).catch(() => [] as string[])) {
          if (!SHA256_PATTERN.test(name)) continue
          const st = await lstat(join(blobs, sub, name)).catch(() => undefined)
          if (st?.isFile()) yield { sha256: name, storedAt: st.mtimeMs }
        }
      }
    },
  }
}

const READ_CHUNK = 256 * 1024

/** One blob read's descriptor: closed once, by its stream's end, error or cancel, or — dropped unread — by the GC. */
interface Held { fd: number; closed: boolean; reading: boolean; closeAfterRead: boolean }

function closeHeld(h: Held): void {
  if (h.closed) return
  // Never under a read in flight: the number would be closed while the kernel may still hand it to that read, and
  // reused by the next open meanwhile.
  if (h.reading) { h.closeAfterRead = true; return }
  h.closed = true
  try { closeSync(h.fd) } catch { /* already gone */ }
}

/** A stream dropped without being read to its end or cancelled (a caller that only wanted to know it is there). */
const dropped = new FinalizationRegistry<Held>(closeHeld)

/**
 * A blob's bytes, one read at a time on a descriptor this module alone holds, closed at the end, on an error or when
 * the reader cancels — after any read in flight has settled — or by the GC when the stream is dropped unread. Not
 * `createReadStream({ fd })`: that stream over a bare number read ahead, and a reader that stopped early (a malformed
 * tree, a limit, an HTTP client gone mid-download) had the number closed under a queued read, so descriptors opened
 * next (any file, the database's) lost their file (EBADF in an unrelated put; sandbox/files/tree.test.ts). Not a
 * FileHandle either: Bun throws, uncaught, when one is collected unclosed.
 */
function readStream(fd: number): ReadableStream<Uint8Array> {
  const h: Held = { fd, closed: false, reading: false, closeAfterRead: false }
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (h.closed || h.closeAfterRead) { closeHeld(h); controller.close(); return }
      const buf = Buffer.allocUnsafe(READ_CHUNK)
      h.reading = true
      let bytesRead: number
      try {
        bytesRead = await new Promise<number>((resolve, reject) => readFd(fd, buf, 0, READ_CHUNK, null, (e, n) => (e ? reject(e) : resolve(n))))
      } catch (e) {
        h.reading = false
        closeHeld(h)
        controller.error(e)
        return
      } finally {
        h.reading = false
      }
      if (h.closeAfterRead || bytesRead === 0) { closeHeld(h); controller.close(); return }
      controller.enqueue(new Uint8Array(buf.buffer, buf.byteOffset, bytesRead))
    },
    cancel() { closeHeld(h) },
  }, { highWaterMark: 0 })
  dropped.register(stream, h)
  return stream
}
