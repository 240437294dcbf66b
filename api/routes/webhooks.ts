/**
 * `/webhooks/:workflowId/:key`: starts an execution from a JSON body (202). Authenticated by the key in
 * the path, not by an API key (app.ts lets these paths past the API-key guard).
 */
import { Elysia, t } from 'elysia'
import { errorResponse } from '../errors.ts'
import { RateLimitedError, readCappedText, type WebhookService } from '../services/webhooks.ts'

const WebhookParams = t.Object({
  workflowId: t.String({ minLength: 1, maxLength: 200 }),
  key: t.String({ minLength: 1, maxLength: 200 }),
})

/** The path prefix the API-key guard must let through. */
export const WEBHOOK_PREFIX = '/api/v1/webhooks/'

export const webhookRoutes = (webhooks: WebhookService) =>
  new Elysia({ name: 'routes.webhooks', prefix: '/webhooks' })
    .post('/:workflowId/:key', async ({ params, body: read, set, request, server }) => {
      // An oversized body is carried here as its error (thrown from `parse`, Elysia would hide it as a parse error).
      if (read instanceof Error) throw read
      const body = read as string
      try {
        const remote = server?.requestIP(request)?.address
        const result = await webhooks.trigger(params.workflowId, params.key, body, remote)
        set.status = 202
        return result
      } catch (e) {
        // The shared error mapping would drop the header: answer 429 here with Retry-After.
        if (!(e instanceof RateLimitedError)) throw e
        const res = errorResponse(429, e.toInfo())
        res.headers.set('retry-after', String(e.retryAfterSeconds))
        return res
      }
    }, {
      params: WebhookParams,
      // Read the raw text whatever the content-type (capped at 1 MiB while reading): the service parses JSON.
      parse: ({ request }) => readCappedText(request).catch((e: unknown) => e),
      body: t.Unknown(),
      detail: {
        summary: 'Trigger a workflow by webhook (202 with the execution id)',
        description: 'Auth: the key in the path (shown by `workflow get`), no API key. Body: a JSON object of inputs ' +
          '(may be empty). Unknown workflow or wrong key → 404 alike; disabled → 409 WORKFLOW_DISABLED; bad inputs → 400 ' +
          'INVALID_INPUT; too many calls → 429 RATE_LIMITED with Retry-After.',
        tags: ['webhooks'],
      },
    })
