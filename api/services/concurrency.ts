/** A bound on requests in flight per key (per client IP for webhooks); an idle key holds no memory. */

export class ConcurrencyLimiter {
  private readonly inFlight = new Map<string, number>()

  constructor(readonly max: number) {
    if (!(max >= 1)) throw new Error('concurrency limit: max >= 1')
  }

  /** Takes a slot for `key`: a release function (idempotent), or undefined when `key` already has `max`. */
  tryAcquire(key: string): (() => void) | undefined {
    const n = this.inFlight.get(key) ?? 0
    if (n >= this.max) return undefined
    this.inFlight.set(key, n + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = (this.inFlight.get(key) ?? 1) - 1
      if (left <= 0) this.inFlight.delete(key)
      else this.inFlight.set(key, left)
    }
  }

  /** Slots taken for `key` right now. */
  count(key: string): number {
    return this.inFlight.get(key) ?? 0
  }
}
