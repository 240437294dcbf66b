/**
 * Blob garbage collection: deletes blobs no file row names that were stored (or last found by a put) before
 * `olderThan`. What leaves such blobs: an attempt that stored some files and then failed (a later file refused or
 * over a limit: none of its rows were committed), an engine that died between a put and its commit. The grace period
 * protects an attempt still between its put and its commit (a put touches a blob it finds).
 */
import type { BlobStore } from '../files/blob-store.ts'
import type { Store } from '../store/store.ts'

/** Blobs younger than this are never collected (an attempt may be about to record them). */
export const GC_GRACE_MS = 3_600_000

export async function collectGarbage(store: Store, blobs: BlobStore, olderThan: number, signal?: AbortSignal): Promise<number> {
  let deleted = 0
  let page: string[] = []
  const flush = async () => {
    const named = await store.files.referenced(page)
    for (const sha of page) if (!named.has(sha) && (await blobs.delete(sha))) deleted++
    page = []
    await new Promise<void>((r) => setImmediate(r))
  }
  for await (const b of blobs.list()) {
    if (signal?.aborted) break
    if (b.storedAt >= olderThan) continue
    page.push(b.sha256)
    if (page.length >= 200) await flush()
  }
  if (page.length) await flush()
  return deleted
}
