/**
 * `/webhooks/:workflowId/:key`: starts an execution from a JSON body (202). Authenticated by the key in the path,
 * not by an API key (app.ts lets these paths past the API-key guard). The key, the workflow and its rate are
 * checked before a byte of the body is read; each client IP has a bounded number of calls in flight; the body
 * must arrive within a deadline. A refusal that leaves the body unread closes the connection.
 */
import { Elysia, t } from 'elysia'
import type { Clock } from '../../runtime/clock.ts'
import { AppError, httpStatusOf } from '../../runtime/errors.ts'
import type { WorkflowRecord } from '../../runtime/store/types.ts'
import { WEBHOOK_PATH_PREFIX } from '../../runtime/triggers/webhook.ts'
import { hasBody, readBody } from '../body.ts'
import { errorResponse } from '../errors.ts'
import { publicErrors } from '../models/common.ts'
import { ConcurrencyLimiter } from '../services/concurrency.ts'
import { MAX_WEBHOOK_BODY_BYTES, RateLimitedError, type WebhookService } from '../services/webhooks.ts'

const WebhookParams = t.Object({
  workflowId: t.String({ minLength: 1, maxLength: 200 }),
  key: t.String({ minLength: 1, maxLength: 200 }),
})

/** The path prefix the API-key guard must let through (the webhook trigger type's, runtime/triggers/webhook.ts). */
export const WEBHOOK_PREFIX = WEBHOOK_PATH_PREFIX

export interface WebhookLimits {
  /** Calls one client IP may have in flight (not yet verified, or verified and uploading). */
  uploadsPerIp: number
  /** The whole body must arrive within this. */
  bodyTimeoutMs: number
  clock: Clock
}

/** The refusal as a response: the envelope, Retry-After for 429s, and `Connection: close` if the body is unread. */
function refusal(e: unknown, close: boolean): Response {
  if (!(e instanceof AppError)) throw e
  const headers: Record<string, string> = e instanceof RateLimitedError ? { 'retry-after': String(e.retryAfterSeconds) } : {}
  return errorResponse(httpStatusOf(e.code), e.toInfo(), { close, headers })
}

export const webhookRoutes = (webhooks: WebhookService, limits: WebhookLimits) => {
  const perIp = new ConcurrencyLimiter(limits.uploadsPerIp)
  return new Elysia({ name: 'routes.webhooks', prefix: '/webhooks' })
    .post('/:workflowId/:key', async ({ params, set, request, server }) => {
      const remote = server?.requestIP(request)?.address
      const unread = hasBody(request)
      const release = perIp.tryAcquire(remote ?? 'in-process')
      if (!release) {
        return refusal(new RateLimitedError(1, `too many webhook calls in flight from this address (at most ${perIp.max}); retry after 1s`), unread)
      }
      try {
        let workflow: WorkflowRecord
        try {
          workflow = await webhooks.authorize(params.workflowId, params.key)
        } catch (e) {
          return refusal(e, unread)
        }
        let body: string
        try {
          body = await readBody(request, { maxBytes: MAX_WEBHOOK_BODY_BYTES, deadlineMs: limits.bodyTimeoutMs, clock: limits.clock })
        } catch (e) {
          return refusal(e, true) // the rest of the body is unread
        }
        const result = await webhooks.start(workflow, body, remote)
        set.status = 202
        return result
      } finally {
        release()
      }
    }, {
      params: WebhookParams,
      // Elysia must not read the body: it is read above, and only once the call is authorized.
      parse: 'none',
      response: { 202: t.Object({ executionId: t.String() }), ...publicErrors(400, 404, 408, 409, 429, 503) },
      detail: {
        operationId: 'triggerWebhook',
        // The key in the path is the credential: no API key.
        security: [],
        requestBody: {
          required: false,
          description: 'A JSON object of inputs (may be empty), at most 1 MiB',
          content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } },
        },
        summary: 'Trigger a workflow by webhook (202 with the execution id)',
        description: 'Auth: the key in the path (shown once, when minted), no API key. Body: a JSON object of inputs ' +
          '(may be empty, at most 1 MiB, within `server.webhookBodyTimeoutSeconds`). Unknown workflow or wrong key → ' +
          '404 alike; disabled → 409 WORKFLOW_DISABLED; bad inputs → 400 INVALID_INPUT; too many calls for the ' +
          'workflow, or in flight from one address → 429 RATE_LIMITED with Retry-After; slow body → 408 REQUEST_TIMEOUT.',
        tags: ['webhooks'],
      },
    })
}
