/**
 * The `webhook` trigger type: a URL that starts the workflow with a JSON body as its inputs. The key in the URL is
 * minted at apply time and stored hashed; the intake itself (HTTP, bounded before any body is read) is api/routes/webhooks.ts.
 */
import { Type } from '@sinclair/typebox'
import type { TriggerType } from './types.ts'

export interface WebhookTrigger {
  type: 'webhook'
}

/** What the API and the CLI show of a webhook trigger. */
export interface WebhookTriggerView {
  /** `POST` here, with the key in place of `{key}`. */
  pathTemplate: string
  /** The live key's first 4 characters and when it was minted; absent until a key exists. */
  keyHint?: string
  keyCreatedAt?: number
}

/** Where webhook calls arrive (the API-key guard lets this prefix through: the key in the path authenticates). */
export const WEBHOOK_PATH_PREFIX = '/api/v1/webhooks/'

/** The path a workflow's webhook listens on, with `{key}` for the key. */
export const webhookPathTemplate = (workflowId: string): string => `${WEBHOOK_PATH_PREFIX}${encodeURIComponent(workflowId)}/{key}`

/** The path a webhook listens on, with its key. */
export const webhookPath = (workflowId: string, key: string): string =>
  `${WEBHOOK_PATH_PREFIX}${encodeURIComponent(workflowId)}/${encodeURIComponent(key)}`

const RawWebhookTrigger = Type.Object({ type: Type.Literal('webhook') }, { additionalProperties: false })

export const webhook: TriggerType<WebhookTrigger, WebhookTriggerView> = {
  schema: RawWebhookTrigger,
  normalize: () => ({ type: 'webhook' }),
  validate: () => [],
  describe(_t, ctx) {
    const key = ctx.webhookKey
    return { pathTemplate: webhookPathTemplate(ctx.workflowId), ...(key ? { keyHint: key.hint, keyCreatedAt: key.createdAt } : {}) }
  },
  render(v, ctx) {
    // The key is shown only by the answer that minted it: say which key is live and how to get a new one.
    const key = v.keyHint !== undefined
      ? ` (key ${v.keyHint}…, created ${v.keyCreatedAt !== undefined ? ctx.time(v.keyCreatedAt) : '-'}; shown only when minted; ` +
        `new key: workflow webhook rotate ${ctx.workflowId})`
      : ''
    return { summary: `POST ${ctx.url(v.pathTemplate)}${key}`, details: [] }
  },
}
