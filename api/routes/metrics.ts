/** `GET /metrics` (no auth, aggregate counts only): Prometheus text exposition. */
import { Elysia } from 'elysia'
import { publicErrors } from '../models/common.ts'
import { errorContent } from '../openapi/content.ts'
import type { Metrics } from '../services/metrics.ts'

export const metricsRoutes = (metrics: Metrics) =>
  new Elysia({ name: 'routes.metrics' })
    .get('/metrics', async () => new Response(await metrics.render(), {
      headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
    }), {
      detail: {
        operationId: 'getMetrics',
        security: [],
        summary: 'Prometheus metrics (no API key needed; aggregate counts only)',
        responses: {
          200: { description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...errorContent(publicErrors()),
        },
        tags: ['health'],
      },
    })
