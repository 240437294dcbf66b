/**
 * The retention loop (config `execution.retention`): every `execution.retentionCheckSeconds` it purges terminal
 * executions that ended longer ago than the retention (runtime/retention/purge.ts: short batches, the engine's
 * commits in between) and collects file blobs nothing names (gc.ts). Runs on the engine's clock; stopped before the
 * store closes. A failed round is reported and tried again next time; it never stops the engine.
 */
import type { Clock } from '../runtime/clock.ts'
import type { BlobStore } from '../runtime/files/blob-store.ts'
import { collectGarbage, GC_GRACE_MS } from '../runtime/retention/gc.ts'
import { purgeExecutions } from '../runtime/retention/purge.ts'
import type { Store } from '../runtime/store/store.ts'

export interface RetentionLoop {
  /** One round now (what the loop does each period); resolves with what went. */
  round(): Promise<{ executions: number; blobs: number }>
  stop(): Promise<void>
}

export function startRetention(o: {
  store: Store; blobs: () => BlobStore; clock: Clock; retentionMs: number | undefined; everyMs: number; onWarning?: (m: string) => void
}): RetentionLoop {
  const life = new AbortController()
  let running: Promise<unknown> = Promise.resolve()
  const round = async () => {
    const now = o.clock.now()
    const purged = o.retentionMs === undefined ? { executions: 0, blobs: 0 }
      : await purgeExecutions(o.store, o.blobs(), now - o.retentionMs, { signal: life.signal })
    if (purged.executions > 0)
      await o.store.audit.record(o.clock.now(), 'EXECUTIONS_PURGED', {}, { before: new Date(now - o.retentionMs!).toISOString(), by: 'retention', ...purged })
    const collected = await collectGarbage(o.store, o.blobs(), now - GC_GRACE_MS, life.signal)
    return { executions: purged.executions, blobs: purged.blobs + collected }
  }
  const loop = async () => {
    while (!life.signal.aborted) {
      try {
        await o.clock.sleep(o.everyMs, life.signal)
      } catch { return }
      running = round().catch((e: unknown) => o.onWarning?.(`retention: ${(e as Error).message}`))
      await running
    }
  }
  void loop()
  return {
    round: () => (running = round()) as Promise<{ executions: number; blobs: number }>,
    async stop() {
      life.abort()
      await running.catch(() => undefined)
    },
  }
}
