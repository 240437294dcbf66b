/** Composes the API: error mapping, API-key auth on /api/v1, one Elysia instance per resource, OpenAPI. */
import { openapi } from '@elysiajs/openapi'
import { Elysia } from 'elysia'
import pkg from '../package.json' with { type: 'json' }
import type { Engine } from '../actors/engine-types.ts'
import { systemClock, type Clock } from '../runtime/clock.ts'
import type { Config } from '../runtime/config/index.ts'
import type { SecretStore } from '../runtime/secrets/index.ts'
import type { Store } from '../runtime/store/store.ts'
import { createKeyChecker } from './auth.ts'
import { errorHandler, type InternalErrorLogger } from './errors.ts'
import { executionRoutes } from './routes/executions.ts'
import { healthRoutes } from './routes/health.ts'
import { metricsRoutes } from './routes/metrics.ts'
import { secretRoutes } from './routes/secrets.ts'
import { WEBHOOK_PREFIX, webhookRoutes } from './routes/webhooks.ts'
import { workflowRoutes } from './routes/workflows.ts'
import type { ServiceContext } from './services/context.ts'
import { ExecutionService } from './services/executions.ts'
import { Metrics } from './services/metrics.ts'
import { cronTriggerHooks } from './services/triggers.ts'
import { WebhookService } from './services/webhooks.ts'
import type { WorkflowDtoHooks } from './services/workflow-dto.ts'
import { WorkflowService } from './services/workflows.ts'
import { parserPoolFor } from './workflow-parser/pool.ts'

/** Everything the API needs; the engine is absent when the runtime is disabled (reads still work). */
export interface AppDeps {
  engine: Engine | undefined
  store: Store
  secrets: SecretStore
  config: Config
  clock?: Clock
  /** Extension point for the workflow detail (e.g. next cron fire times). */
  workflowHooks?: WorkflowDtoHooks
  /** The cron scheduler: told to re-plan after any successful change under /api/v1/workflows. */
  scheduler?: { refresh(): void }
  /** Unexpected errors (500s) are passed here; the client sees only `INTERNAL`. */
  logInternalError?: InternalErrorLogger
}

/** Paths that need no API key: health, metrics (aggregate counts only) and the OpenAPI document. */
export const PUBLIC_PREFIXES = ['/health', '/metrics', '/openapi'] as const

/** Builds the Elysia app (not listening). `app.handle(request)` serves in-process. */
export function createApp(deps: AppDeps) {
  const ctx: ServiceContext = { store: deps.store, clock: deps.clock ?? systemClock, ...(deps.engine ? { engine: deps.engine } : {}) }
  const checkKey = createKeyChecker(deps.config.server.apiKeys)
  const metrics = new Metrics(deps.store, deps.engine)
  // Uploads are parsed and validated in a worker so they never stall this thread (docs/workflows.md#limits).
  const parser = parserPoolFor(deps.config.limits)
  const v1 = new Elysia({ name: 'api.v1', prefix: '/api/v1' })
    .use(workflowRoutes(new WorkflowService(ctx, deps.workflowHooks ?? cronTriggerHooks(ctx.clock), parser)))
    .use(executionRoutes(new ExecutionService(ctx), ctx))
    .use(secretRoutes(deps.secrets, (type, data) => deps.store.audit.record(ctx.clock.now(), type, {}, data)))
    .use(webhookRoutes(new WebhookService(ctx)))
  return new Elysia({ name: 'autokestra' })
    .use(errorHandler(deps.logInternalError))
    .onRequest(({ request }) => {
      const path = new URL(request.url).pathname
      // Webhooks authenticate by the key in their path instead (api/routes/webhooks.ts); nothing else is routed there.
      if ((path === '/api/v1' || path.startsWith('/api/v1/')) && !path.startsWith(WEBHOOK_PREFIX)) return checkKey(request)
    })
    .onAfterHandle({ as: 'global' }, ({ request }) => {
      if (request.method !== 'GET' && new URL(request.url).pathname.startsWith('/api/v1/workflows')) deps.scheduler?.refresh()
    })
    .use(openapi({
      path: '/openapi',
      documentation: {
        info: { title: 'autokestra API', version: pkg.version, description: 'Workflows, executions, logs and secrets. See docs/api.md.' },
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer' },
            apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          },
        },
        security: [{ bearer: [] }, { apiKey: [] }],
      },
    }))
    .use(healthRoutes(ctx, pkg.version))
    .use(metricsRoutes(metrics))
    .use(v1)
    .onStop(() => {
      metrics.close()
      parser.close()
    })
}

/** The app's type: what `api/client.ts` (Eden Treaty) is typed against. */
export type App = ReturnType<typeof createApp>
