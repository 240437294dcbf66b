/**
 * Composes the API: request log and HTTP metrics, request-target check, security headers, error mapping, API-key
 * auth on /api/v1, one Elysia instance per resource, OpenAPI; and the Bun.serve options every `listen` of it uses
 * (production mode).
 */
import { Elysia, type AnyElysia } from 'elysia'
import pkg from '../package.json' with { type: 'json' }
import type { Engine } from '../actors/engine-types.ts'
import { enginePlugins, enginePluginsOffThread, type EnginePlugins } from '../actors/plugins.ts'
import { systemClock, type Clock } from '../runtime/clock.ts'
import { namedApiKeys, type Config } from '../runtime/config/index.ts'
import type { SecretStore } from '../runtime/secrets/index.ts'
import type { Store } from '../runtime/store/store.ts'
import { createKeyChecker } from './auth.ts'
import { errorHandler, serverErrorHandler, type InternalErrorLogger } from './errors.ts'
import { allowedMethods } from './method-not-allowed.ts'
import { checkRequestTarget, hostPolicy } from './request-guard.ts'
import { createRequestLog, type RequestLogger } from './request-log.ts'
import { pathOf } from './request-path.ts'
import { executionRoutes } from './routes/executions.ts'
import { fileRoutes } from './routes/files.ts'
import { FileService } from './services/files.ts'
import { createLocalBlobStore } from '../runtime/files/local.ts'
import type { BlobStore } from '../runtime/files/blob-store.ts'
import { healthRoutes } from './routes/health.ts'
import { metricsRoutes } from './routes/metrics.ts'
import { nodeRoutes } from './routes/nodes.ts'
import { openapiRoutes } from './routes/openapi.ts'
import { pluginRoutes } from './routes/plugins.ts'
import { schemaRoutes } from './routes/schemas.ts'
import { secretRoutes } from './routes/secrets.ts'
import { uiRoutes } from './routes/ui.ts'
import { webhookKeyRoutes } from './routes/webhook-keys.ts'
import { WEBHOOK_PREFIX, webhookRoutes } from './routes/webhooks.ts'
import { workflowRoutes } from './routes/workflows.ts'
import { securityHeaders } from './security-headers.ts'
import type { ServiceContext } from './services/context.ts'
import { ExecutionService } from './services/executions.ts'
import { PluginService } from './services/plugins.ts'
import { Metrics } from './services/metrics.ts'
import { NodeService } from './services/nodes.ts'
import { WebhookKeyService } from './services/webhook-keys.ts'
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
  /** How the workflow detail is built (its clock, the trigger types that describe triggers); default: `clock` and all types. */
  workflowHooks?: WorkflowDtoHooks
  /** The trigger loops (actors/triggers/loops.ts): told to re-plan after any successful change under /api/v1/workflows. */
  scheduler?: { refresh(): void }
  /** Unexpected errors (500s) are passed here; the client sees only `INTERNAL`. */
  logInternalError?: InternalErrorLogger
  /** Every answered request (api/request-log.ts); the HTTP metrics are kept either way. */
  logRequest?: RequestLogger
}

/** The engine's plugins; without a runtime, those the config names (loaded once, on first use). */
function pluginsOf(deps: AppDeps): () => EnginePlugins {
  let own: EnginePlugins | undefined
  return () => deps.engine?.plugins ?? (own ??= enginePlugins(deps.config))
}

/**
 * The plugins `GET /plugins` shows: the engine's (loaded off-thread at its start); without a runtime, loaded in a
 * throwaway worker on the first request (never Ajv or plugin code on this thread), kept, and tried again after a failure.
 */
function pluginsOffThreadOf(deps: AppDeps): () => Promise<EnginePlugins> {
  let own: Promise<EnginePlugins> | undefined
  return () => {
    if (deps.engine) return Promise.resolve(deps.engine.plugins)
    own ??= enginePluginsOffThread(deps.config).catch((e: unknown) => {
      own = undefined
      throw e
    })
    return own
  }
}

/** The task files' blob store (config `storage.files.dir`), opened on first use: a server that never serves a file creates no directory. */
function blobsOf(config: Config): () => BlobStore {
  let store: BlobStore | undefined
  return () => (store ??= createLocalBlobStore(config.storage.files.dir))
}

/** Builds the Elysia app (not listening). `app.handle(request)` serves in-process. */
export function createApp(deps: AppDeps) {
  const ctx: ServiceContext = { store: deps.store, clock: deps.clock ?? systemClock, ...(deps.engine ? { engine: deps.engine } : {}) }
  const server = deps.config.server
  const checkKey = createKeyChecker(namedApiKeys(server.apiKeys))
  const metrics = new Metrics(deps.store, deps.engine, ctx.clock, { version: pkg.version })
  // Uploads are parsed and validated in a worker so they never stall this thread (docs/workflows.md#limits).
  const parser = parserPoolFor(deps.config.limits)
  const answersTo = hostPolicy(server.host, server.allowedHosts)
  const requests = createRequestLog(metrics, deps.logRequest, () => root?.routes ?? [])
  const v1 = new Elysia({ name: 'api.v1', prefix: '/api/v1' })
    .use(workflowRoutes(new WorkflowService(ctx, deps.workflowHooks ?? { clock: ctx.clock }, parser, pluginsOf(deps)), { maxWaitMs: server.maxWaitSeconds * 1000 }))
    .use(executionRoutes(new ExecutionService(ctx), ctx))
    .use(fileRoutes(new FileService(ctx, blobsOf(deps.config))))
    .use(pluginRoutes(new PluginService(pluginsOffThreadOf(deps))))
    .use(secretRoutes(deps.secrets, (type, data) => deps.store.audit.record(ctx.clock.now(), type, {}, data)))
    .use(webhookKeyRoutes(new WebhookKeyService(ctx)))
    .use(nodeRoutes(new NodeService(ctx)))
    .use(webhookRoutes(new WebhookService(ctx), {
      uploadsPerIp: server.webhookUploadsPerIp,
      bodyTimeoutMs: server.webhookBodyTimeoutSeconds * 1000,
      clock: ctx.clock,
    }))
  // The OpenAPI document describes this app: its routes read it when asked (api/routes/openapi.ts).
  let root: AnyElysia | undefined
  const app = new Elysia({
    name: 'autokestra',
    // Whoever calls `listen` gets these Bun.serve options. `development: false` whatever NODE_ENV says: Bun's
    // development error page shows the stack, the cwd and source lines to anyone; `error` is the last resort.
    serve: {
      development: false,
      idleTimeout: server.idleTimeoutSeconds,
      maxRequestBodySize: server.maxRequestBodyBytes,
      error: serverErrorHandler((e) => deps.logInternalError?.(e)),
    },
  })
    .use(requests.plugin)
    .use(errorHandler(deps.logInternalError, allowedMethods(() => root!)))
    .onRequest(requests.early(({ request, set }) => {
      // Before anything reads the URL: a missing or odd Host leaves Bun's request.url path-only.
      const bad = checkRequestTarget(request, answersTo)
      if (bad) return bad
      const path = pathOf(request)
      // Merged by Elysia into every response of this request, a handler's own Response and errors included.
      Object.assign(set.headers, securityHeaders(path))
      // Webhooks authenticate by the key in their path instead (api/routes/webhooks.ts); nothing else is routed there.
      if ((path === '/api/v1' || path.startsWith('/api/v1/')) && !path.startsWith(WEBHOOK_PREFIX)) return checkKey(request)
    }))
    .onAfterHandle({ as: 'global' }, ({ request }) => {
      if (request.method !== 'GET' && pathOf(request).startsWith('/api/v1/workflows')) deps.scheduler?.refresh()
    })
    .use(openapiRoutes(() => root!))
    .use(healthRoutes(ctx, pkg.version))
    .use(metricsRoutes(metrics))
    .use(schemaRoutes())
    .use(uiRoutes())
    .use(v1)
    .onStop(() => {
      metrics.close()
      parser.close()
    })
  root = app
  return app
}

/** The app's type: what `api/client.ts` (Eden Treaty) is typed against. */
export type App = ReturnType<typeof createApp>
