/** Cron arithmetic: complex expressions, time zones across DST, the missed-tick policy, validation. */

import { describe, expect, it } from 'bun:test'
import { describeTriggers } from '../runtime/triggers/dispatch.ts'
import { missedTicks, nextFireTimes, recentFireTimes, type CronPolicy } from '../runtime/triggers/cron-schedule.ts'
import { parseWorkflow, type Workflow } from '../runtime/workflow/index.ts'

const iso = (ms: number[]) => ms.map((t) => new Date(t).toISOString())
const at = (s: string) => Date.parse(s)
const next = (cron: string, from: string, n: number, timezone?: string) =>
  iso(nextFireTimes({ cron, ...(timezone ? { timezone } : {}) }, at(from), n))

describe('cron expressions (croner)', () => {
  it('handles ranges, steps, lists and names', () => {
    // 2025-01-01 is a Wednesday.
    expect(next('0 9-17/4 * JAN,MAR mon-fri', '2025-01-01T00:00:00Z', 4)).toEqual([
      '2025-01-01T09:00:00.000Z', '2025-01-01T13:00:00.000Z', '2025-01-01T17:00:00.000Z', '2025-01-02T09:00:00.000Z',
    ])
    expect(next('15,45 */6 * * *', '2025-01-01T00:20:00Z', 3)).toEqual([
      '2025-01-01T00:45:00.000Z', '2025-01-01T06:15:00.000Z', '2025-01-01T06:45:00.000Z',
    ])
  })

  it('handles L (last day) and # (nth weekday)', () => {
    expect(next('0 0 L * *', '2025-01-15T00:00:00Z', 3)).toEqual([
      '2025-01-31T00:00:00.000Z', '2025-02-28T00:00:00.000Z', '2025-03-31T00:00:00.000Z',
    ])
    expect(next('0 12 * * FRI#2', '2025-01-01T00:00:00Z', 2)).toEqual(['2025-01-10T12:00:00.000Z', '2025-02-14T12:00:00.000Z'])
    expect(next('0 0 * * 5L', '2025-01-01T00:00:00Z', 2)).toEqual(['2025-01-31T00:00:00.000Z', '2025-02-28T00:00:00.000Z'])
  })

  it('fires on either restricted day field (day-of-month OR day-of-week, as Vixie cron)', () => {
    expect(next('0 0 13 * FRI', '2025-01-01T00:00:00Z', 3)).toEqual([
      '2025-01-03T00:00:00.000Z', '2025-01-10T00:00:00.000Z', '2025-01-13T00:00:00.000Z',
    ])
  })

  it('handles nicknames', () => {
    expect(next('@hourly', '2025-01-01T00:30:00Z', 2)).toEqual(['2025-01-01T01:00:00.000Z', '2025-01-01T02:00:00.000Z'])
    expect(next('@daily', '2025-01-01T00:30:00Z', 1)).toEqual(['2025-01-02T00:00:00.000Z'])
    expect(next('@weekly', '2025-01-01T00:00:00Z', 1)).toEqual(['2025-01-05T00:00:00.000Z'])
  })

  it('handles 6 fields (seconds)', () => {
    expect(next('*/20 * * * * *', '2025-01-01T00:00:05Z', 3)).toEqual([
      '2025-01-01T00:00:20.000Z', '2025-01-01T00:00:40.000Z', '2025-01-01T00:01:00.000Z',
    ])
  })

  it('is strictly after `after`, whatever the milliseconds', () => {
    expect(nextFireTimes({ cron: '* * * * * *' }, 1000, 2)).toEqual([2000, 3000])
    expect(nextFireTimes({ cron: '* * * * * *' }, 999, 1)).toEqual([1000])
    expect(recentFireTimes({ cron: '* * * * * *' }, 2000, 5000, 10)).toEqual([5000, 4000, 3000])
  })
})

describe('time zones across DST', () => {
  it('runs a 02:30 Berlin job once at 03:00 CEST on the spring-forward day (02:30 does not exist)', () => {
    expect(next('0 30 2 * * *', '2025-03-29T12:00:00Z', 3, 'Europe/Berlin')).toEqual([
      '2025-03-30T01:00:00.000Z', // 03:00 CEST, the first valid time after the gap
      '2025-03-31T00:30:00.000Z', // 02:30 CEST
      '2025-04-01T00:30:00.000Z',
    ])
  })

  it('runs a 01:30 New York job once on the fall-back day (01:30 happens twice)', () => {
    expect(next('30 1 * * *', '2025-11-01T12:00:00Z', 3, 'America/New_York')).toEqual([
      '2025-11-02T05:30:00.000Z', // 01:30 EDT; the 01:30 EST an hour later does not fire again
      '2025-11-03T06:30:00.000Z', // 01:30 EST
      '2025-11-04T06:30:00.000Z',
    ])
  })

  it('keeps an interval job on real time through the repeated hour', () => {
    expect(next('*/30 * * * *', '2025-11-02T04:45:00Z', 5, 'America/New_York')).toEqual([
      '2025-11-02T05:00:00.000Z', '2025-11-02T05:30:00.000Z', '2025-11-02T06:00:00.000Z',
      '2025-11-02T06:30:00.000Z', '2025-11-02T07:00:00.000Z',
    ])
  })

  it('reads the expression in the trigger zone, UTC when none', () => {
    expect(next('0 9 * * *', '2025-05-31T12:00:00Z', 1, 'Asia/Tokyo')).toEqual(['2025-06-01T00:00:00.000Z'])
    expect(next('0 9 * * *', '2025-06-01T00:00:00Z', 1)).toEqual(['2025-06-01T09:00:00.000Z'])
  })
})

describe('missed-tick policy', () => {
  const hourly = (missed: 'skip' | 'catchup', maxCatchup = 0): CronPolicy => ({ cron: '0 * * * *', missed, maxCatchup })
  const down = at('2025-01-01T00:30:00Z')

  it('skip drops every missed tick', () => {
    expect(missedTicks(hourly('skip'), down, at('2025-01-01T05:10:00Z'))).toEqual([])
  })

  it('catchup fires at most maxCatchup, the newest ones, oldest first', () => {
    expect(iso(missedTicks(hourly('catchup', 2), down, at('2025-01-01T05:10:00Z')))).toEqual([
      '2025-01-01T04:00:00.000Z', '2025-01-01T05:00:00.000Z',
    ])
    expect(iso(missedTicks(hourly('catchup', 10), down, at('2025-01-01T03:10:00Z')))).toEqual([
      '2025-01-01T01:00:00.000Z', '2025-01-01T02:00:00.000Z', '2025-01-01T03:00:00.000Z',
    ])
  })

  it('bounds the work on a huge gap (every second, a year down)', () => {
    const year = 365 * 86_400_000
    // Half a second after the newest tick with no grace: all four are missed, three are caught up.
    const ticks = missedTicks({ cron: '* * * * * *', missed: 'catchup', maxCatchup: 3 }, 0, year + 500)
    expect(ticks).toEqual([year - 2000, year - 1000, year])
    // A tick exactly now is due, not missed: it fires on top of the catch-up.
    expect(missedTicks({ cron: '* * * * * *', missed: 'catchup', maxCatchup: 3 }, 0, year)).toHaveLength(4)
  })

  it('fires the newest tick when it is only late (within the grace), under either policy', () => {
    const now = at('2025-01-01T05:00:20Z')
    expect(iso(missedTicks(hourly('skip'), down, now, { graceMs: 60_000 }))).toEqual(['2025-01-01T05:00:00.000Z'])
    expect(iso(missedTicks(hourly('catchup', 1), down, now, { graceMs: 60_000 }))).toEqual([
      '2025-01-01T04:00:00.000Z', '2025-01-01T05:00:00.000Z',
    ])
    expect(missedTicks(hourly('skip'), down, at('2025-01-01T05:02:00Z'), { graceMs: 60_000 })).toEqual([])
  })

  it('has nothing to do when no tick passed', () => {
    expect(missedTicks(hourly('catchup', 5), down, at('2025-01-01T00:59:59Z'))).toEqual([])
  })
})

describe('validation at apply time', () => {
  const wf = (trigger: string) => `id: w\ntriggers:\n  - ${trigger}\ntasks:\n  - id: a\n    type: core/log.info\n`

  it('accepts the full syntax', () => {
    for (const cron of ['0 0 L * *', '0 12 * * FRI#2', '@hourly', '*/5 * * * * *', '0 9-17/2 * JAN,MAR mon-fri']) {
      const r = parseWorkflow(wf(`{type: cron, cron: "${cron}"}`))
      expect(r.ok).toBe(true)
    }
  })

  it('rejects a bad expression or zone with a clear error at the offending path', () => {
    const bad = parseWorkflow(wf('{type: cron, cron: "61 * * * *"}'))
    expect(bad.ok).toBe(false)
    if (!bad.ok) expect(bad.issues[0]).toMatchObject({ path: 'triggers[0].cron', code: 'INVALID_CRON' })
    const zone = parseWorkflow(wf('{type: cron, cron: "@daily", timezone: Mars/Olympus}'))
    expect(zone.ok).toBe(false)
    if (!zone.ok) expect(zone.issues[0]).toMatchObject({ path: 'triggers[0].timezone', code: 'INVALID_TIMEZONE' })
  })
})

describe('describeTriggers', () => {
  const workflow: Workflow = {
    id: 'nightly', enabled: true, inputs: [], secrets: [], tasks: [],
    triggers: [{ type: 'cron', cron: '0 2 * * *', timezone: 'Europe/Paris', missed: 'skip', maxCatchup: 0 }, { type: 'webhook' }],
  }

  it('lists the next 5 fires of each cron trigger and the webhook path', () => {
    const key = { hint: 'k3y_', createdAt: 7 }
    const views = describeTriggers(workflow.triggers, { workflowId: 'nightly', enabled: true, now: at('2025-01-01T12:00:00Z'), webhookKey: key })
    expect(views[0]).toEqual({ type: 'cron', cron: '0 2 * * *', timezone: 'Europe/Paris', missed: 'skip', maxCatchup: 0, nextFireAt: [
      '2025-01-02T01:00:00Z', '2025-01-03T01:00:00Z', '2025-01-04T01:00:00Z', '2025-01-05T01:00:00Z', '2025-01-06T01:00:00Z',
    ].map(at) })
    expect(views[1]).toEqual({ type: 'webhook', pathTemplate: '/api/v1/webhooks/nightly/{key}', keyHint: 'k3y_', keyCreatedAt: 7 })
  })

  it('lists no upcoming fires for a disabled workflow', () => {
    const views = describeTriggers(workflow.triggers, { workflowId: 'nightly', enabled: false, now: 0 })
    expect(views[0]).toMatchObject({ nextFireAt: [] })
    expect(views[1]).toEqual({ type: 'webhook', pathTemplate: '/api/v1/webhooks/nightly/{key}' })
  })
})
