/**
 * `GET /health` (no auth): liveness, whether the store answers and can be written, and whether the
 * runtime runs, and which storage backend is in use. A store that cannot be written is `degraded` (still HTTP 200: the server is alive and
 * serves reads; restarting it would not help), with the store's reason, since when, and the failed commits; so is a
 * store that does not answer within HEALTH_STORE_DEADLINE_MS (`UNREACHABLE`: a PostgreSQL link that hangs), and a
 * node that fenced itself (`FENCED`: docs/scale-out.md), which the store may answer again before its lease is renewed.
 */
import { Elysia } from 'elysia'
import { publicErrors } from '../models/common.ts'
import { Health } from '../models/health.ts'
import type { ServiceContext } from '../services/context.ts'

/** How long `/health` waits for the store before it answers `degraded` (`UNREACHABLE`): a link that hangs must not hang health. */
export const HEALTH_STORE_DEADLINE_MS = 2000

export const healthRoutes = (ctx: ServiceContext, version: string) => {
  // One look at the store per deadline: callers while one hangs share it, so a hung link holds one query per
  // deadline, not one per poll; a look that outlived its deadline is not waited for again (its link may never answer).
  let looking: { since: number; done: Promise<void> } | undefined
  const look = (time: number): Promise<void> => {
    const now = performance.now()
    if (looking && now - looking.since < HEALTH_STORE_DEADLINE_MS) return looking.done
    const mine = {
      since: now,
      done: (async () => {
        await ctx.store.ping()
        // While the engine retries its own refused checkpoints, those retries tell; a probe row could still
        // fit where they do not, and would make the status flap.
        if (!ctx.engine?.stats().waitingForStore) await ctx.store.probeWrite(time)
      })().finally(() => { if (looking === mine) looking = undefined }),
    }
    looking = mine
    return mine.done
  }

  return new Elysia({ name: 'routes.health' })
    .get('/health', async () => {
      const runtime = ctx.engine ? 'enabled' as const : 'disabled' as const
      const time = ctx.clock.now()
      const backend = ctx.store.backend
      const degraded = (code: string, reason: string, since: number, failedCommits: number) =>
        ({ status: 'degraded' as const, version, runtime, time, reason, storage: { backend, code, since, failedCommits } })
      let timer: ReturnType<typeof setTimeout> | undefined
      const deadline = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), HEALTH_STORE_DEADLINE_MS) })
      let storage
      try {
        const answered = await Promise.race([look(time).then(() => 'answered' as const), deadline])
        if (answered === 'late') {
          return degraded('UNREACHABLE', `the store did not answer within ${HEALTH_STORE_DEADLINE_MS / 1000} s`, time, 0)
        }
        storage = ctx.store.health.status()
      } catch (e) {
        storage = { writable: false as const, code: 'UNREADABLE', reason: e instanceof Error ? e.message : String(e), since: time, failedCommits: 0 }
      } finally {
        clearTimeout(timer)
      }
      if (!storage.writable) {
        const { code, reason, since, failedCommits } = storage
        return degraded(code, `the store cannot be written: ${reason}`, since, failedCommits)
      }
      // The store answers this server, but its engine could not renew its lease in time: nothing runs here.
      const fencedSince = ctx.engine?.stats().fencedSince ?? null
      if (fencedSince !== null) {
        return degraded('FENCED', 'this node could not renew its lease in time and runs nothing until it does (docs/scale-out.md)', fencedSince, 0)
      }
      return { status: 'ok' as const, version, runtime, time, storage: { backend } }
    }, {
      response: { 200: Health, ...publicErrors() },
      detail: {
        operationId: 'getHealth',
        security: [],
        summary: 'Liveness (no API key needed); `degraded` with the reason while the store cannot be written',
        tags: ['health'],
      },
    })
}
