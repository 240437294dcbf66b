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

  /** Resolves when a slot has been handed over. */
  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
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
