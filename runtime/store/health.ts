/**
 * Whether the store can be written, as seen by the writes themselves: a failed commit opens a *burst*
 * (degraded, with the reason), the next successful one closes it. Listeners hear of each burst once when
 * it starts, at most once a minute while it lasts, and once when it ends with its count — never per write.
 */

import { describeFault } from './unavailable.ts'

/** What `/health` reports about the store. */
export type WriteStatus =
  | { writable: true }
  | { writable: false; code: string; reason: string; since: number; failedCommits: number }

export type WriteHealthEvent =
  /** The first failed commit after a success (or since the start). */
  | { type: 'degraded'; code: string; reason: string; at: number }
  /** The burst goes on: a reminder with the count so far, at most once per `remindMs`. */
  | { type: 'still-degraded'; code: string; reason: string; since: number; failedCommits: number; at: number }
  /** A commit succeeded again. */
  | { type: 'recovered'; since: number; failedCommits: number; at: number }

interface Burst {
  code: string
  reason: string
  since: number
  failedCommits: number
  remindedAt: number
}

export class WriteHealth {
  private burst: Burst | undefined
  private readonly listeners = new Set<(e: WriteHealthEvent) => void>()

  constructor(private readonly now: () => number, private readonly remindMs = 60_000) {}

  /** A commit failed with `error` (STORAGE_UNAVAILABLE, or something unexpected). */
  failed(error: unknown): void {
    const at = this.now()
    const { code, reason } = describeFault(error)
    const b = this.burst
    if (!b) {
      this.burst = { code, reason, since: at, failedCommits: 1, remindedAt: at }
      return this.emit({ type: 'degraded', code, reason, at })
    }
    b.failedCommits++
    b.code = code
    b.reason = reason
    if (at - b.remindedAt >= this.remindMs) {
      b.remindedAt = at
      this.emit({ type: 'still-degraded', code, reason, since: b.since, failedCommits: b.failedCommits, at })
    }
  }

  /** A commit succeeded: ends the burst, if any. */
  succeeded(): void {
    const b = this.burst
    if (!b) return
    this.burst = undefined
    this.emit({ type: 'recovered', since: b.since, failedCommits: b.failedCommits, at: this.now() })
  }

  get degraded(): boolean {
    return this.burst !== undefined
  }

  status(): WriteStatus {
    const b = this.burst
    return b ? { writable: false, code: b.code, reason: b.reason, since: b.since, failedCommits: b.failedCommits } : { writable: true }
  }

  /** Hears of every burst (start, reminders, end); returns the unsubscribe function. */
  subscribe(listener: (e: WriteHealthEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private emit(e: WriteHealthEvent): void {
    for (const l of this.listeners) {
      try {
        l(e)
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}

/** The one log line for an event: a warning when a burst starts or goes on, an info line when it ends. */
export function describeWriteHealth(e: WriteHealthEvent): { level: 'warn' | 'info'; message: string } {
  switch (e.type) {
    case 'degraded':
      return { level: 'warn', message: `store: a commit failed (${e.code}: ${e.reason}); retrying with backoff, further failures are counted until a commit succeeds` }
    case 'still-degraded':
      return { level: 'warn', message: `store: still cannot be written (${e.code}: ${e.reason}): ${e.failedCommits} failed commits in ${Math.round((e.at - e.since) / 1000)}s` }
    case 'recovered':
      return { level: 'info', message: `store: writable again after ${e.failedCommits} failed commit${e.failedCommits === 1 ? '' : 's'} in ${Math.round((e.at - e.since) / 100) / 10}s` }
  }
}
