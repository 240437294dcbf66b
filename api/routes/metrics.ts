/** `GET /metrics` (no auth, aggregate counts only): Prometheus text exposition. */
import { Elysia } from 'elysia'
import type { Metrics } from '../services/metrics.ts'

export const metricsRoutes = (metrics: Metrics) =>
  new Elysia({ name: 'routes.metrics' })
    .get('/metrics', async () => new Response(await metrics.render(), {
      headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
    }), { detail: { summary: 'Prometheus metrics', tags: ['health'] } })
