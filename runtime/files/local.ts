/**
 * The local blob store: `<dir>/sha256/<first two hex digits>/<digest>`, files 0400 in private directories (0700),
 * owned by the engine. A put streams into a fresh file in `<dir>/incoming/` (O_EXCL, 0600), hashing as it writes,
 * fsyncs it, and renames it into place (an existing blob wins: same digest, same bytes); a put that goes past its
 * bound removes its incoming file. Nothing a plugin controls is ever a path here: only digests, checked.
 */

import { createHash, randomBytes } from 'node:crypto'
import { constants, mkdirSync } from 'node:fs'
import { chmod, lstat, mkdir, open, readdir, rename, unlink, utimes, type FileHandle } from 'node:fs/promises'
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
      const fh = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined)
      if (!fh) return undefined
      return readStream(fh)
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

/**
 * A blob's bytes through its FileHandle, one read at a time, closed at the end, on an error or when the reader cancels
 * — after any read in flight has settled. Not `createReadStream({ fd })`: a stream over a bare descriptor number reads
 * ahead, and a reader that stopped early (a malformed tree, a limit) had that number closed under a read still queued
 * on it; the number, reused meanwhile by another open, then lost its file (EBADF in an unrelated put; seen in
 * sandbox/files/tree.test.ts). A FileHandle's descriptor is never touched once it is closed.
 */
function readStream(fh: FileHandle): ReadableStream<Uint8Array> {
  let inFlight: Promise<unknown> = Promise.resolve()
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await inFlight.catch(() => undefined)
    await fh.close().catch(() => undefined)
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (closed) return
      const buf = Buffer.allocUnsafe(READ_CHUNK)
      const read = fh.read(buf, 0, READ_CHUNK, null)
      inFlight = read
      try {
        const { bytesRead } = await read
        if (bytesRead === 0) { await close(); controller.close(); return }
        controller.enqueue(new Uint8Array(buf.buffer, buf.byteOffset, bytesRead))
      } catch (e) {
        await close()
        controller.error(e)
      }
    },
    cancel: close,
  }, { highWaterMark: 0 })
}
