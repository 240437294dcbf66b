/**
 * The loop behind the supervisor's watchers (slots, children, decisions asked by other engines): a pass runs on a
 * poll while `due()` says there may be something to find, and at once on `wake()`. Passes never overlap; a wake
 * during one runs one more after it, so nothing a wake announced is missed.
 */

import type { Clock } from '../../runtime/clock.ts'

/** How soon a watcher looks after a notification of another node's commit (a burst of them: one look). */
export const WAKE_SOON_MS = 20

export interface PollLoopOptions {
  clock: Clock
  /** The poll's period. */
  ms: number
  /** Whether a poll should run a pass now (else it sleeps another period). */
  due(): boolean
  /** One look; its own failures are its own (the next poll looks again). */
  pass(): Promise<void>
}

export class PollLoop {
  private readonly life = new AbortController()
  private passing: Promise<void> | undefined
  private again = false
  private wakeUp: (() => void) | undefined
  private soon: ReturnType<typeof setTimeout> | undefined

  constructor(private readonly o: PollLoopOptions) {}

  start(): void {
    void this.loop()
  }

  stop(): void {
    this.life.abort()
    clearTimeout(this.soon)
    this.wakeUp?.()
  }

  /** Something may have changed: a pass now, or right after the running one. */
  wake(): void {
    if (this.life.signal.aborted) return
    if (this.passing) {
      this.again = true
      return
    }
    this.passing = this.o.pass().catch(() => {}).finally(() => {
      this.passing = undefined
      if (this.again) {
        this.again = false
        this.wake()
      }
    })
  }

  /**
   * Something may have changed, often (another node's commits, as notifications): a pass within `ms`, one for every
   * wake-up that came meanwhile, so a burst of them costs one pass, not one each.
   */
  wakeSoon(ms: number): void {
    if (this.soon || this.life.signal.aborted) return
    this.soon = setTimeout(() => {
      this.soon = undefined
      this.wake()
    }, ms)
    this.soon.unref?.()
  }

  /** Settles once no pass is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.passing) await this.passing
  }

  private async loop(): Promise<void> {
    while (!this.life.signal.aborted) {
      if (this.o.due()) this.wake()
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve
        this.o.clock.sleep(this.o.ms, this.life.signal).then(resolve, resolve)
      })
    }
  }
}
