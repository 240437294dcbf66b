/** `GET /health` (no auth): liveness plus whether the store answers and the runtime runs. */
import { Elysia } from 'elysia'
import type { ServiceContext } from '../services/context.ts'

export const healthRoutes = (ctx: ServiceContext, version: string) =>
  new Elysia({ name: 'routes.health' })
    .get('/health', () => {
      ctx.store.db.query('SELECT 1').get()
      return { status: 'ok' as const, version, runtime: ctx.engine ? 'enabled' as const : 'disabled' as const, time: ctx.clock.now() }
    }, { detail: { summary: 'Liveness (no API key needed)', tags: ['health'] } })
