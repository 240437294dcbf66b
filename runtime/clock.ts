/** The only place that reads the time; tests inject a manual clock. */

export interface Clock {
  now(): number
  /** Resolves after `ms` of this clock's time; rejects when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

/** The longest delay a timer takes: beyond it, setTimeout fires after 1 ms (a 30-day timeout would fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason)
      const until = Date.now() + Math.max(0, ms)
      let t: ReturnType<typeof setTimeout>
      const arm = (left: number) => {
        t = setTimeout(() => {
          const rest = until - Date.now()
          if (rest > 0) return arm(rest)
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }, Math.min(left, MAX_TIMER_MS))
      }
      const onAbort = () => {
        clearTimeout(t)
        reject(signal?.reason)
      }
      arm(Math.max(0, ms))
      signal?.addEventListener('abort', onAbort, { once: true })
    }),
}

/** A clock that moves only when told to (`advance`), for cron and backoff tests. */
export class ManualClock implements Clock {
  private timers: { at: number; resolve: () => void }[] = []
  constructor(private current = 0) {}

  now(): number {
    return this.current
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason)
      const timer = { at: this.current + Math.max(0, ms), resolve }
      this.timers.push(timer)
      signal?.addEventListener('abort', () => {
        this.timers = this.timers.filter((t) => t !== timer)
        reject(signal.reason)
      }, { once: true })
    })
  }

  /** Moves time forward and wakes every sleeper whose deadline has come, in deadline order. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at)
      const next = this.timers[0]
      if (!next || next.at > target) break
      this.timers.shift()
      this.current = next.at
      next.resolve()
      await Promise.resolve()
    }
    this.current = target
  }

  set(ms: number): void {
    this.current = ms
  }
}

/** The longest duration accepted anywhere (a timeout, a backoff): 365 days. */
export const MAX_DURATION_MS = 365 * 86_400_000

/** Parses `30s`, `5m`, `1h`, `250ms`, `1d` into milliseconds; `undefined` when malformed or over a year. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim())
  if (!m) return undefined
  const n = Number(m[1])
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd']
  const ms = Math.round(n * unit)
  // Hundreds of digits parse to Infinity, which JSON would store as null: refuse instead of dropping it.
  return Number.isFinite(ms) && ms <= MAX_DURATION_MS ? ms : undefined
}
