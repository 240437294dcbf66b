/** Token-bucket rate limiting per key (one bucket per workflow for webhooks), on the injected clock. */
import type { Clock } from '../../runtime/clock.ts'

export interface RateLimit {
  /** Sustained requests per second. */
  ratePerSecond: number
  /** Requests allowed at once on a full bucket. */
  burst: number
}

export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number }

/** Beyond this many buckets, full ones are dropped (a full bucket is the same as no bucket). */
const MAX_IDLE_BUCKETS = 10_000

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()

  constructor(private readonly limit: RateLimit, private readonly clock: Clock) {
    if (!(limit.ratePerSecond > 0) || !(limit.burst >= 1)) throw new Error('rate limit: ratePerSecond > 0 and burst >= 1')
  }

  /** Takes one token for `key`, or says how long until one is available. */
  take(key: string): TakeResult {
    const now = this.clock.now()
    const b = this.buckets.get(key) ?? { tokens: this.limit.burst, at: now }
    b.tokens = Math.min(this.limit.burst, b.tokens + (Math.max(0, now - b.at) * this.limit.ratePerSecond) / 1000)
    b.at = now
    if (b.tokens < 1) {
      this.buckets.set(key, b)
      return { ok: false, retryAfterMs: Math.ceil(((1 - b.tokens) * 1000) / this.limit.ratePerSecond) }
    }
    b.tokens -= 1
    this.buckets.set(key, b)
    if (this.buckets.size > MAX_IDLE_BUCKETS) this.prune(now)
    return { ok: true }
  }

  private prune(now: number): void {
    const refillMs = (this.limit.burst * 1000) / this.limit.ratePerSecond
    for (const [k, b] of this.buckets) if (now - b.at >= refillMs) this.buckets.delete(k)
  }
}
