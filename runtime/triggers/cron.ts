/** The `cron` trigger type: a croner expression in a time zone, with a policy for ticks missed while nobody watched. */
import { Type } from '@sinclair/typebox'
import { IssueCode } from '../workflow/issues.ts'
import { compileCron, nextFireTimes, type CronPolicy } from './cron-schedule.ts'
import type { TriggerIssue, TriggerType } from './types.ts'

/** A cron trigger as the workflow model holds it (defaults applied). */
export interface CronTrigger extends CronPolicy {
  type: 'cron'
}

/** What the API and the CLI show of a cron trigger. */
export interface CronTriggerView {
  cron: string
  /** IANA name; absent means UTC. */
  timezone?: string
  missed: CronTrigger['missed']
  maxCatchup: number
  /** The next `UPCOMING_FIRES` fire times (ms since epoch, soonest first); empty while the workflow is disabled. */
  nextFireAt: number[]
}

/** How many upcoming fire times a description lists. */
const UPCOMING_FIRES = 5

const RawCronTrigger = Type.Object({
  type: Type.Literal('cron'),
  cron: Type.String(),
  timezone: Type.Optional(Type.String()),
  missed: Type.Optional(Type.Union([Type.Literal('skip'), Type.Literal('catchup')])),
  maxCatchup: Type.Optional(Type.Integer({ minimum: 0 })),
}, { additionalProperties: false })

/** Whether the runtime knows an IANA time zone. */
function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: tz })
    return true
  } catch {
    return false
  }
}

/** Why croner refuses an expression (5 or 6 fields, or a nickname like `@hourly`), or undefined. Compiled as the scheduler will. */
function cronProblem(expr: string, timezone?: string): string | undefined {
  try {
    compileCron({ cron: expr, ...(timezone ? { timezone } : {}) }).stop()
    return undefined
  } catch (e) {
    return e instanceof Error ? e.message : String(e)
  }
}

export const cron: TriggerType<CronTrigger, CronTriggerView> = {
  schema: RawCronTrigger,

  /**
   * Defaults: `missed: skip`; with `missed: catchup`, `maxCatchup` defaults to 1 so a long outage fires one
   * catch-up run rather than a storm (0 when skipping, where it is unused).
   */
  normalize(raw) {
    if (typeof raw.cron !== 'string') return undefined
    const missed = raw.missed === 'catchup' ? 'catchup' : 'skip'
    const maxCatchup = typeof raw.maxCatchup === 'number' && Number.isInteger(raw.maxCatchup) && raw.maxCatchup >= 0
      ? raw.maxCatchup : missed === 'catchup' ? 1 : 0
    return { type: 'cron', cron: raw.cron, ...(typeof raw.timezone === 'string' ? { timezone: raw.timezone } : {}), missed, maxCatchup }
  },

  validate(t, ctx) {
    const issues: TriggerIssue[] = []
    let zoneOk = true
    if (t.timezone !== undefined && !isTimeZone(t.timezone)) {
      zoneOk = false
      issues.push({ at: ['timezone'], code: IssueCode.InvalidTimezone, severity: 'error',
        message: `unknown time zone "${t.timezone}" (expected an IANA name like Europe/Paris)` })
    }
    const problem = cronProblem(t.cron, zoneOk ? t.timezone : undefined)
    if (problem) issues.push({ at: ['cron'], code: IssueCode.InvalidCron, severity: 'error', message: `invalid cron expression "${t.cron}": ${problem}` })
    // A cron run gets no inputs: one that is required and has no default would fail every run.
    const blocking = ctx.inputs.filter((i) => i.required && i.default === undefined)
    if (blocking.length > 0) {
      issues.push({ at: [], code: IssueCode.CronRequiredInput, severity: 'warning',
        message: `a cron run cannot supply required input(s) ${blocking.map((i) => i.name).join(', ')}` })
    }
    return issues
  },

  describe(t, ctx) {
    return {
      cron: t.cron, ...(t.timezone !== undefined ? { timezone: t.timezone } : {}), missed: t.missed, maxCatchup: t.maxCatchup,
      nextFireAt: ctx.enabled ? nextFireTimes(t, ctx.now, UPCOMING_FIRES) : [],
    }
  },

  render(v, ctx) {
    const policy = v.missed === 'catchup' ? ` · catches up ${v.maxCatchup} missed` : ''
    return { summary: `${v.cron}${v.timezone ? ` (${v.timezone})` : ''}${policy}`, details: v.nextFireAt.map((at) => `next ${ctx.time(at)}`) }
  },
}
