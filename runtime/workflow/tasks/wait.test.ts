import { describe, expect, it } from 'bun:test'
import { parseWorkflow } from '../parse.ts'
import { parseMoment, wakeTime } from './wait.ts'

const issuesOf = (tasks: string) => {
  const r = parseWorkflow(`id: w\ninputs: { at: { type: string } }\ntasks:\n${tasks}`)
  return r.ok ? [] : r.issues.map((i) => [i.path, i.code])
}

describe('the wait kind', () => {
  it('parses a duration or a moment into its own field', () => {
    const r = parseWorkflow('id: w\ntasks:\n  - { id: a, wait: { duration: 90s } }\n  - { id: b, wait: { until: "2026-12-01T12:00:00Z" } }\n')
    expect(r.ok && r.workflow.tasks).toEqual([
      { id: 'a', kind: 'wait', needs: [], wait: { durationMs: 90_000 } },
      { id: 'b', kind: 'wait', needs: [], wait: { until: '2026-12-01T12:00:00Z' } },
    ])
  })

  it('reports each mistake at its path: neither, both, a bad duration, a local time, an unknown field, a template root', () => {
    expect(issuesOf('  - { id: a, wait: {} }\n')).toEqual([['tasks[0].wait', 'REQUIRED']])
    expect(issuesOf('  - { id: a, wait: { duration: 1s, until: "2026-12-01T12:00:00Z" } }\n')).toEqual([['tasks[0].wait', 'INVALID_VALUE']])
    expect(issuesOf('  - { id: a, wait: { duration: soon } }\n')).toEqual([['tasks[0].wait.duration', 'INVALID_DURATION']])
    expect(issuesOf('  - { id: a, wait: { until: "2026-12-01 12:00" } }\n')).toEqual([['tasks[0].wait.until', 'INVALID_VALUE']])
    expect(issuesOf('  - { id: a, wait: { duration: 1s, every: 1s } }\n')).toEqual([['tasks[0].wait.every', 'UNKNOWN_FIELD']])
    expect(issuesOf('  - { id: a, wait: { until: "{{ inputs.nope }}" } }\n')).toEqual([['tasks[0].wait.until', 'UNDECLARED_INPUT']])
    expect(issuesOf('  - { id: a, wait: { until: "{{ inputs.at }}" } }\n')).toEqual([])
    expect(issuesOf('  - { id: a, wait: { duration: 1s }, type: core/log.info }\n').map((i) => i[1])).toContain('CONFLICTING_TASK_KINDS')
  })

  it('reads only moments with an offset, and computes the wake-up time from the start or the moment', () => {
    expect(parseMoment('2026-12-01T12:00:00Z')).toBe(Date.UTC(2026, 11, 1, 12))
    expect(parseMoment('2026-12-01T13:00:00+01:00')).toBe(Date.UTC(2026, 11, 1, 12))
    expect(parseMoment('2026-12-01T12:00:00')).toBeUndefined()
    expect(parseMoment('1733011200000')).toBeUndefined()
    expect(wakeTime({ durationMs: 500 }, 1000, (v) => v)).toBe(1500)
    expect(wakeTime({ until: '{{ x }}' }, Date.UTC(2026, 10, 1), () => '2026-12-01T12:00:00Z')).toBe(Date.UTC(2026, 11, 1, 12))
    expect(() => wakeTime({ until: '{{ x }}' }, 0, () => 42)).toThrow(/not an ISO timestamp/)
    expect(() => wakeTime({ until: '{{ x }}' }, Date.UTC(2026, 10, 1), () => '2999-01-01T00:00:00Z')).toThrow(/365 days/)
  })
})
