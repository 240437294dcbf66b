/** `POST /workflows/:id/webhook/rotate` (API key): a new webhook key, shown once; the old one stops working. */
import { Elysia } from 'elysia'
import { errors, IdParams } from '../models/common.ts'
import { MintedWebhookKey } from '../models/workflows.ts'
import type { WebhookKeyService } from '../services/webhook-keys.ts'

export const webhookKeyRoutes = (keys: WebhookKeyService) =>
  new Elysia({ name: 'routes.webhook-keys', prefix: '/workflows' })
    .post('/:id/webhook/rotate', ({ params }) => keys.rotate(params.id), {
      params: IdParams,
      response: { 200: MintedWebhookKey, ...errors(400, 404, 409) },
      detail: {
        operationId: 'rotateWebhookKey',
        summary: 'Rotate the webhook key: the answer is the only place the new key is shown',
        description: 'The old key stops working at once. 404 for an unknown workflow, 409 CONFLICT for a workflow ' +
          'without a webhook trigger. Audited as WEBHOOK_KEY_ROTATED (with the key hints, never a key).',
        tags: ['webhooks', 'workflows'],
      },
    })
