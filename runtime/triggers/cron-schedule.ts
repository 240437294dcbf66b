/** Pure cron arithmetic over croner: next fire times and the missed-tick policy. Times are epoch ms. */

import { Cron } from 'croner'

/** What identifies a schedule: the expression and its time zone (UTC when absent). */
export interface CronSpec {
  cron: string
  timezone?: string
}

/** What to do with ticks missed while nobody was watching: `skip` them, or fire the newest `maxCatchup`. */
export interface MissedPolicy {
  missed: 'skip' | 'catchup'
  maxCatchup: number
}

/** A schedule plus its policy for missed ticks. */
export type CronPolicy = CronSpec & MissedPolicy

/**
 * A paused croner job for the spec: it never schedules anything itself, we only ask it for dates.
 * The workflow validator compiles with it too (`cronProblem`), so what validates is what runs.
 * Throws croner's error on an invalid expression or time zone.
 */
export function compileCron(spec: CronSpec): Cron {
  return new Cron(spec.cron, { paused: true, ...(spec.timezone ? { timezone: spec.timezone } : {}) })
}

const asCron = (s: CronSpec | Cron): Cron => (s instanceof Cron ? s : compileCron(s))

/** The next `n` fire times strictly after `after`, ascending (fewer when the schedule ends). */
export function nextFireTimes(spec: CronSpec | Cron, after: number, n: number): number[] {
  if (n <= 0) return []
  return asCron(spec).nextRuns(n, new Date(after)).map((d) => d.getTime())
}

/** The first fire time strictly after `after`, or undefined when there is none. */
export function nextFireTime(spec: CronSpec | Cron, after: number): number | undefined {
  return asCron(spec).nextRun(new Date(after))?.getTime()
}

/** Up to `n` fire times in `(since, now]`, newest first. */
export function recentFireTimes(spec: CronSpec | Cron, since: number, now: number, n: number): number[] {
  if (n <= 0 || now <= since) return []
  // croner's previousRuns is strict; croner has second resolution, so +1 ms makes `now` itself count.
  return asCron(spec).previousRuns(n, new Date(now + 1)).map((d) => d.getTime()).filter((t) => t > since && t <= now)
}

export interface MissedOptions {
  /**
   * How late the newest tick may be and still count as due rather than missed (a slow wake, a restart
   * inside a tick). Only the newest tick gets this grace, so a long outage never fires a burst. Default 0.
   */
  graceMs?: number
}

/**
 * The ticks in `(lastCheckedAt, now]` to fire now, ascending, after the missed-tick policy:
 * the newest tick fires when it is at most `graceMs` late; older ticks (and a newest one beyond the
 * grace) are missed: `skip` drops them, `catchup` fires the newest `maxCatchup` of them.
 * Bounded work: it never enumerates more than `maxCatchup + 1` ticks, however long the gap.
 */
export function missedTicks(policy: CronPolicy, lastCheckedAt: number, now: number, opts: MissedOptions = {}): number[] {
  const cron = compileCron(policy)
  return dueTicks(cron, policy, lastCheckedAt, now, opts.graceMs ?? 0)
}

/** `missedTicks` over an already compiled job (the scheduler keeps one per trigger). */
export function dueTicks(cron: Cron, policy: MissedPolicy, since: number, now: number, graceMs: number): number[] {
  const catchup = policy.missed === 'catchup' ? Math.max(0, policy.maxCatchup) : 0
  const recent = recentFireTimes(cron, since, now, catchup + 1)
  const newest = recent[0]
  if (newest === undefined) return []
  const late = now - newest <= graceMs
  const missed = late ? recent.slice(1) : recent
  const fire = missed.slice(0, catchup)
  if (late) fire.unshift(newest)
  return fire.sort((a, b) => a - b)
}
