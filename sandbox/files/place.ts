/**
 * Places an attempt's input files (`inputFiles:`) in its working dir before the plugin gets its invocation: each a
 * fresh copy of its blob, created with O_CREAT | O_EXCL | O_NOFOLLOW relative to the pinned directory's descriptor
 * (nothing the plugin left can redirect the write), checked against its digest as it is written, and made 0444.
 * For a root engine the copy belongs to root, so the plugin's leased uid cannot make it writable (it may only remove
 * its own view of it, in a directory it owns); a non-root engine runs plugins as its own uid, where the mode is a
 * convention the plugin could change on its copy (docs/security.md#files). A copy, never a hard link: a link would
 * share the blob's inode with a process that may write to it.
 */

import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { ErrorCode, type ErrorInfo } from '../../runtime/errors.ts'
import type { BlobStore } from '../../runtime/files/blob-store.ts'
import type { TreeOwner } from './tree.ts'

/** One file to place: its name in the working dir (one segment, checked by the caller) and its blob. */
export interface PlacedFile { name: string; sha256: string; size: number }

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_RDONLY } = constants

/** Copies each file into `dir`; undefined when all are there, else why not (the attempt must not start). */
export async function placeInputFiles(dir: string, files: readonly PlacedFile[], store: BlobStore, owner?: TreeOwner): Promise<ErrorInfo | undefined> {
  if (files.length === 0) return undefined
  const handles: FileHandle[] = []
  try {
    const d = await open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
    handles.push(d)
    for (const f of files) {
      const source = await store.get(f.sha256)
      if (!source) return { code: ErrorCode.FileNotFound, message: `input file ${f.name}: its content (sha256 ${f.sha256}) is no longer stored`, details: { name: f.name } }
      const out = await open(`/proc/self/fd/${d.fd}/${f.name}`, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o444)
      handles.push(out)
      const hash = createHash('sha256')
      let size = 0
      for await (const chunk of source) {
        hash.update(chunk)
        size += chunk.byteLength
        let off = 0
        while (off < chunk.byteLength) off += (await out.write(chunk, off, chunk.byteLength - off)).bytesWritten
      }
      if (hash.digest('hex') !== f.sha256 || size !== f.size)
        return { code: ErrorCode.FileNotFound, message: `input file ${f.name}: the stored content does not match its digest`, details: { name: f.name } }
      // `writableInputs: true`: the attempt's own copy (its uid's, 0644) instead of the engine's read-only one.
      if (owner) await out.chown(owner.uid, owner.gid)
      await out.chmod(owner ? 0o644 : 0o444)
    }
    return undefined
  } catch (e) {
    const code = (e as { code?: string }).code
    return { code: ErrorCode.SandboxUnavailable, message: `input files could not be placed in the working dir (${code ?? (e as Error).message})` }
  } finally {
    for (const h of handles) await h.close().catch(() => undefined)
  }
}
