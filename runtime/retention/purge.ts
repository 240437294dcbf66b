/**
 * Deletes old terminal executions (`workflow execution purge --before`, `execution.retention`): in batches of
 * `batchSize`, each one short, durable store transaction (ExecutionRepository.purge: runs, attempts, labels, logs,
 * audit, file rows), then the blobs no file row names any more. Between batches the event loop turns, so the engine's
 * own commits never wait for more than one batch. Safe to run on several engines at once (a batch deletes what is
 * there; a second purger finds it gone).
 */
import type { BlobStore } from '../files/blob-store.ts'
import type { Store } from '../store/store.ts'
import { GC_GRACE_MS } from './gc.ts'

export const PURGE_BATCH = 200

export interface PurgeReport {
  /** Executions deleted. */
  executions: number
  /** Blobs deleted (content no remaining file names). */
  blobs: number
  batches: number
}

export async function purgeExecutions(store: Store, blobs: BlobStore | undefined, before: number,
  opts: { batchSize?: number; signal?: AbortSignal } = {}): Promise<PurgeReport> {
  const report: PurgeReport = { executions: 0, blobs: 0, batches: 0 }
  const size = opts.batchSize ?? PURGE_BATCH
  for (;;) {
    if (opts.signal?.aborted) return report
    const batch = await store.executions.purge(before, size)
    if (batch.executions.length === 0) return report
    report.batches++
    report.executions += batch.executions.length
    // A digest named again since the batch looked (another execution stored the same content meanwhile) is kept.
    const still = batch.unreferenced.length ? await store.files.referenced(batch.unreferenced) : new Set<string>()
    // Nor is one stored (or found by a put) within the GC's grace: an attempt still between its put and its commit
    // would otherwise commit a row naming deleted content (review 6); the GC takes it once the grace is over.
    const young = Date.now() - GC_GRACE_MS
    for (const sha of batch.unreferenced) {
      if (!blobs || still.has(sha)) continue
      const st = await blobs.stat(sha)
      if (st && st.storedAt < young && (await blobs.delete(sha))) report.blobs++
    }
    if (batch.executions.length < size) return report
    await new Promise<void>((r) => setImmediate(r))
  }
}
