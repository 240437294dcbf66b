/**
 * The `wait` kind: a durable wait — `wait: { duration: 2s }` or `wait: { until: <ISO timestamp> }` — that holds
 * no process and no task slot. Its wake-up time is stored with the run (WAITING, reason TIMER), so it survives
 * a restart and fires at that time after one. `core/sleep` is different on purpose: a plugin call that holds a
 * process and a slot for its duration (docs/workflows.md#wait).
 */
import { Type } from '@sinclair/typebox'
import { MAX_DURATION_MS } from '../../clock.ts'
import { AppError, ErrorCode } from '../../errors.ts'
import { IssueCode } from '../issues.ts'
import { extractTemplateRefs } from '../template.ts'
import { EACH_TEMPLATE_SCOPE, TEMPLATE_SCOPE } from '../../expressions/scope.ts'
import { durationAt } from './common.ts'
import type { TaskKind } from './kind.ts'

/** A wait task's own field: exactly one of a duration (from when the wait starts) or a moment. */
export interface WaitSpec {
  wait: {
    durationMs?: number
    /** An ISO 8601 timestamp with its offset (`2026-12-01T12:00:00Z`), or a `{{ … }}` template rendering to one. */
    until?: string
  }
}

/** ISO 8601 date and time with a `Z` or `±hh:mm` offset: a moment, never a local time read in the engine's zone. */
const ISO_MOMENT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/

/** The moment `text` names (ms since the epoch), or undefined when it is not an ISO timestamp with an offset. */
export function parseMoment(text: string): number | undefined {
  if (!ISO_MOMENT.test(text)) return undefined
  const ms = Date.parse(text)
  return Number.isFinite(ms) ? ms : undefined
}

/** When a wait started at `now` wakes: its duration from now, or its (rendered) moment; TEMPLATE_ERROR when that is no moment. */
export function wakeTime(spec: WaitSpec['wait'], now: number, render: (v: unknown) => unknown): number {
  if (spec.durationMs !== undefined) return now + spec.durationMs
  const value = render(spec.until)
  const at = typeof value === 'string' ? parseMoment(value.trim()) : undefined
  if (at === undefined) {
    throw new AppError(ErrorCode.TemplateError, `wait.until is not an ISO timestamp with an offset (e.g. 2026-12-01T12:00:00Z): ${JSON.stringify(value)}`)
  }
  if (at - now > MAX_DURATION_MS) throw new AppError(ErrorCode.TemplateError, `wait.until is more than 365 days away: ${JSON.stringify(value)}`)
  return at
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

export const wait: TaskKind<WaitSpec> = {
  key: 'wait',
  fields: {
    wait: Type.Object({ duration: Type.Optional(Type.String()), until: Type.Optional(Type.String()) }, { additionalProperties: false }),
  },

  normalize(raw, at, issues) {
    const w = isMap(raw.wait) ? raw.wait : {}
    const spec: WaitSpec['wait'] = {}
    const durationMs = durationAt(w.duration, [...at, 'wait', 'duration'], issues)
    if (durationMs !== undefined) spec.durationMs = durationMs
    if (typeof w.until === 'string') spec.until = w.until
    // Both or neither: the one place it is known which was written (a bad duration is reported already).
    const written = ['duration', 'until'].filter((k) => w[k] !== undefined)
    if (isMap(raw.wait) && written.length !== 1) {
      issues.push({
        at: [...at, 'wait'], code: written.length ? IssueCode.InvalidValue : IssueCode.Required,
        message: written.length ? 'a wait has either `duration` or `until`, not both' : 'a wait needs `duration` (e.g. 30s) or `until` (an ISO timestamp)',
      })
    }
    return { wait: spec }
  },

  validate(task, at, issues) {
    const until = task.wait.until
    // A template is checked when it renders (and by the workflow's template checks, with a forEach task's `item`).
    if (until === undefined || extractTemplateRefs(until, task.forEach !== undefined ? EACH_TEMPLATE_SCOPE : TEMPLATE_SCOPE).length > 0) return
    if (parseMoment(until.trim()) === undefined) {
      issues.push({ at: [...at, 'wait', 'until'], code: IssueCode.InvalidValue, message: `"${until}" is not an ISO timestamp with an offset (e.g. 2026-12-01T12:00:00Z)` })
    }
  },

  templates: (task) => (task.wait.until !== undefined ? { wait: { until: task.wait.until } } : {}),
  describe: () => 'wait',
  pluginCalls: () => [],
}
