/**
 * Webhook keys: minted at apply time and shown once (the store keeps a digest only), checked in constant time
 * against that digest, and rotated on request (audited). See runtime/store/webhook-keys.ts for why SHA-256.
 */
import { timingSafeEqual } from 'node:crypto'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { newToken } from '../../runtime/ids.ts'
import { AuditType } from '../../runtime/state/states.ts'
import type { WorkflowRecord } from '../../runtime/store/types.ts'
import { hashWebhookKey, webhookKeyRecord, type WebhookKeyRecord } from '../../runtime/store/webhook-keys.ts'
import { webhookPath } from '../../runtime/triggers/webhook.ts'
import type { ServiceContext } from './context.ts'

/** The key itself, in the one answer that minted it (apply, rotate): it cannot be shown again. */
export interface MintedWebhookKey {
  workflowId: string
  /** The key (24 random bytes, base64url). */
  key: string
  /** `POST` here: the webhook's path with the key. */
  path: string
  keyHint: string
  keyCreatedAt: number
}


/** Whether a workflow has a webhook trigger. */
export const hasWebhook = (r: WorkflowRecord): boolean => r.workflow.triggers.some((t) => t.type === 'webhook')

/** A new key and what the store keeps of it. */
export function mintWebhookKey(now: number): { key: string; record: WebhookKeyRecord } {
  const key = newToken()
  return { key, record: webhookKeyRecord(key, now) }
}

/** The shown-once answer for a key just minted. */
export function shownOnce(workflowId: string, minted: { key: string; record: WebhookKeyRecord }): MintedWebhookKey {
  return { workflowId, key: minted.key, path: webhookPath(workflowId, minted.key), keyHint: minted.record.hint, keyCreatedAt: minted.record.createdAt }
}

// Compared against when the workflow or its key is missing, so that case costs the same as a wrong key.
const DUMMY = Buffer.from(hashWebhookKey(newToken()), 'hex')

/** Whether `given` hashes to `expectedHash` (hex SHA-256): compared in constant time, whatever the lengths. */
export function webhookKeyMatches(expectedHash: string | undefined, given: string): boolean {
  const expected = expectedHash === undefined ? DUMMY : Buffer.from(expectedHash, 'hex')
  const actual = Buffer.from(hashWebhookKey(given), 'hex')
  // A malformed stored digest (not 32 bytes) matches nothing rather than throwing.
  const same = expected.length === actual.length && timingSafeEqual(expected, actual)
  return same && expectedHash !== undefined
}

export class WebhookKeyService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Replaces a workflow's webhook key; the old one stops working at once. NOT_FOUND for an unknown workflow,
   * CONFLICT for one without a webhook trigger. Audited (`WEBHOOK_KEY_ROTATED`, never the key).
   */
  async rotate(workflowId: string): Promise<MintedWebhookKey> {
    const { store, clock } = this.ctx
    const now = clock.now()
    const minted = mintWebhookKey(now)
    const notFound = () => new AppError(ErrorCode.NotFound, `workflow ${workflowId} not found`, { id: workflowId })
    const rec = await store.workflows.get(workflowId)
    if (!rec) throw notFound()
    if (!hasWebhook(rec)) {
      throw new AppError(ErrorCode.Conflict, `workflow ${workflowId} has no webhook trigger: add \`- type: webhook\` ` +
        'under `triggers:` and apply it; a key is minted then', { id: workflowId })
    }
    // Audited (WEBHOOK_KEY_ROTATED, with the key hints) in the same transaction.
    if (!(await store.workflows.rotateWebhookKey(workflowId, minted.record, now))) throw notFound()
    return shownOnce(workflowId, minted)
  }
}
