/**
 * `GET /health` (no auth): liveness, whether the store answers and can be written, and whether the
 * runtime runs, and which storage backend is in use. A store that cannot be written is `degraded` (still HTTP 200: the server is alive and
 * serves reads; restarting it would not help), with SQLite's reason, since when, and the failed commits.
 */
import { Elysia } from 'elysia'
import { publicErrors } from '../models/common.ts'
import { Health } from '../models/health.ts'
import type { ServiceContext } from '../services/context.ts'

export const healthRoutes = (ctx: ServiceContext, version: string) =>
  new Elysia({ name: 'routes.health' })
    .get('/health', async () => {
      const runtime = ctx.engine ? 'enabled' as const : 'disabled' as const
      const time = ctx.clock.now()
      let storage
      try {
        await ctx.store.ping()
        // While the engine retries its own refused checkpoints, those retries tell; a probe row could still
        // fit where they do not, and would make the status flap.
        if (!ctx.engine?.stats().waitingForStore) await ctx.store.probeWrite(time)
        storage = ctx.store.health.status()
      } catch (e) {
        storage = { writable: false as const, code: 'UNREADABLE', reason: e instanceof Error ? e.message : String(e), since: time, failedCommits: 0 }
      }
      const backend = ctx.store.backend
      if (storage.writable) return { status: 'ok' as const, version, runtime, time, storage: { backend } }
      const { code, reason, since, failedCommits } = storage
      return { status: 'degraded' as const, version, runtime, time, reason: `the store cannot be written: ${reason}`, storage: { backend, code, since, failedCommits } }
    }, {
      response: { 200: Health, ...publicErrors() },
      detail: {
        operationId: 'getHealth',
        security: [],
        summary: 'Liveness (no API key needed); `degraded` with the reason while the store cannot be written',
        tags: ['health'],
      },
    })
