/**
 * Webhook calls: authorized from the path alone (`authorize`: key, trigger, enabled, per-workflow rate) before a
 * byte of the body is read; only then started with the body as inputs. Keys themselves: webhook-keys.ts.
 */
import { admit } from '../../actors/supervisor/admission.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { WorkflowRecord } from '../../runtime/store/types.ts'
import { requireEngine, type ServiceContext } from './context.ts'
import { TokenBucketLimiter, type RateLimit } from './rate-limit.ts'
import { hasWebhook, webhookKeyMatches } from './webhook-keys.ts'

/** Default per-workflow webhook rate: 10 per second sustained, bursts of 20. */
export const DEFAULT_WEBHOOK_RATE: RateLimit = { ratePerSecond: 10, burst: 20 }

/** Largest accepted webhook body. */
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024

/** Why a webhook call was refused with 429, for the Retry-After header. */
export class RateLimitedError extends AppError {
  constructor(readonly retryAfterSeconds: number, message = `too many webhook calls for this workflow; retry after ${retryAfterSeconds}s`) {
    super(ErrorCode.RateLimited, message, { retryAfterSeconds }, true)
  }
}

/** Reads a webhook body: empty → no inputs; else a JSON object whose keys are the inputs. */
export function bodyToInputs(text: string): Record<string, unknown> {
  if (Buffer.byteLength(text, 'utf8') > MAX_WEBHOOK_BODY_BYTES) {
    throw new AppError(ErrorCode.InvalidInput, `webhook body exceeds ${MAX_WEBHOOK_BODY_BYTES} bytes`, { path: 'body' })
  }
  if (text.trim() === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new AppError(ErrorCode.InvalidInput, 'webhook body is not valid JSON', { path: 'body' })
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AppError(ErrorCode.InvalidInput, 'webhook body must be a JSON object whose keys are the workflow inputs', { path: 'body' })
  }
  return parsed as Record<string, unknown>
}

export class WebhookService {
  private readonly limiter: TokenBucketLimiter

  constructor(private readonly ctx: ServiceContext, rate: RateLimit = DEFAULT_WEBHOOK_RATE) {
    this.limiter = new TokenBucketLimiter(rate, ctx.clock)
  }

  /**
   * Checks a call from its path alone, before its body is read, and takes a token of the workflow's rate:
   * NOT_FOUND alike for an unknown workflow, a workflow without a webhook trigger and a wrong key (never says
   * which; none of them costs a token); then WORKFLOW_DISABLED, RATE_LIMITED. Returns the workflow to start.
   */
  async authorize(workflowId: string, key: string): Promise<WorkflowRecord> {
    const rec = await this.ctx.store.workflows.get(workflowId)
    const expected = rec && hasWebhook(rec) ? rec.webhookKey?.hash : undefined
    if (!webhookKeyMatches(expected, key) || !rec) throw new AppError(ErrorCode.NotFound, 'no such webhook')
    // The engine's admission rule, asked before a byte of the body is read.
    admit({ accepting: true }, workflowId, rec)
    const taken = this.limiter.take(workflowId)
    if (!taken.ok) throw new RateLimitedError(Math.max(1, Math.ceil(taken.retryAfterMs / 1000)))
    return rec
  }

  /** Starts an authorized call's execution (trigger `webhook`); the engine's INVALID_INPUT names a bad input. */
  async start(rec: WorkflowRecord, body: string, remote?: string): Promise<{ executionId: string }> {
    const inputs = bodyToInputs(body)
    const engine = requireEngine(this.ctx)
    const execution = await engine.start({
      workflowId: rec.id, inputs, trigger: { type: 'webhook', ...(remote ? { data: { remote } } : {}) },
    })
    return { executionId: execution.id }
  }
}
