/** Counting semaphore for the global `maxConcurrentTasks`; waiters are served first come, first served. */

export class Slots {
  private used = 0
  private waiters: (() => void)[] = []

  constructor(private readonly max: number) {}

  /** Takes a slot now if one is free. */
  tryAcquire(): boolean {
    if (this.used >= this.max) return false
    this.used++
    return true
  }

  /** Resolves true when a slot has been handed over, false when `signal` aborts first (no slot taken). */
  acquire(signal?: AbortSignal): Promise<boolean> {
    if (this.tryAcquire()) return Promise.resolve(true)
    if (signal?.aborted) return Promise.resolve(false)
    return new Promise((resolve) => {
      const waiter = () => {
        signal?.removeEventListener('abort', giveUp)
        resolve(true)
      }
      const giveUp = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        resolve(false)
      }
      signal?.addEventListener('abort', giveUp, { once: true })
      this.waiters.push(waiter)
    })
  }

  release(): void {
    const next = this.waiters.shift()
    if (next) next() // the slot passes straight to the next waiter
    else this.used = Math.max(0, this.used - 1)
  }

  get inUse(): number {
    return this.used
  }

  get waiting(): number {
    return this.waiters.length
  }
}
