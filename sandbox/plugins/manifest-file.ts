/**
 * Reads a plugin's `plugin.yaml` the way the engine reads anything another party controls (review 2, hole 8):
 * the file itself, never what a symlink points to; opened non-blocking, so a FIFO cannot hold the loading thread;
 * a regular file only (no device, no directory); at most MAX_MANIFEST_BYTES. Synchronous: loading is.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'

/** A manifest larger than this is refused: a real one is a few KB. */
export const MAX_MANIFEST_BYTES = 256 * 1024

/** The manifest's text, or an Error saying why it is not read (the caller makes it INVALID_MANIFEST). */
export function readManifestText(file: string): string {
  let fd: number
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new Error(code === 'ELOOP' ? 'is a symbolic link: a manifest is read as the file itself, never through a link' : (e as Error).message)
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new Error('is not a regular file')
    if (st.size > MAX_MANIFEST_BYTES) throw new Error(`is ${st.size} bytes; a manifest may have at most ${MAX_MANIFEST_BYTES}`)
    // One byte more than the cap: a file that grew since fstat is refused rather than read without end.
    const buf = Buffer.alloc(MAX_MANIFEST_BYTES + 1)
    let n = 0
    for (let got = 1; got > 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, null)
    if (n > MAX_MANIFEST_BYTES) throw new Error(`grew past ${MAX_MANIFEST_BYTES} bytes while it was read`)
    return buf.toString('utf8', 0, n)
  } finally {
    closeSync(fd)
  }
}
