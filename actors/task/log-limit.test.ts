/** Log caps (issue 10 finding 6): lines and bytes, per attempt and per execution; empty lines count; one trip. */

import { describe, expect, it } from 'bun:test'
import { LogGate, truncatedLine, type LogCapHit, type LogLimits } from './log-limit.ts'

const limits = (over: Partial<LogLimits> = {}): LogLimits => ({
  mode: 'truncate', perAttempt: { lines: 5, bytes: 1000 }, perExecution: { lines: 8, bytes: 10_000 }, ...over,
})

describe('log gate', () => {
  it('counts empty lines, admits up to the attempt cap, trips once', () => {
    const hits: LogCapHit[] = []
    const gate = new LogGate(limits(), { lines: 0, bytes: 0 }, (h) => hits.push(h))
    const admitted = Array.from({ length: 100 }, () => gate.admit('')).filter(Boolean).length
    expect(admitted).toBe(5)
    expect(hits).toEqual([{ scope: 'attempt', unit: 'lines', max: 5 }])
  })
  it('counts bytes, a newline included', () => {
    const hits: LogCapHit[] = []
    const gate = new LogGate(limits({ perAttempt: { lines: 100, bytes: 10 } }), { lines: 0, bytes: 0 }, (h) => hits.push(h))
    expect([gate.admit('1234'), gate.admit('1234'), gate.admit('1')]).toEqual([true, true, false])
    expect(hits).toEqual([{ scope: 'attempt', unit: 'bytes', max: 10 }])
  })
  it('shares the execution budget between attempts', () => {
    const budget = { lines: 0, bytes: 0 }
    const first = new LogGate(limits(), budget, () => {})
    for (let i = 0; i < 5; i++) first.admit('a')
    const hits: LogCapHit[] = []
    const second = new LogGate(limits(), budget, (h) => hits.push(h))
    expect(Array.from({ length: 5 }, () => second.admit('b')).filter(Boolean)).toHaveLength(3)
    expect(hits).toEqual([{ scope: 'execution', unit: 'lines', max: 8 }])
    expect(budget).toEqual({ lines: 8, bytes: 16 })
  })
  it('says what happens next in its LOG_TRUNCATED line', () => {
    const hit = { scope: 'attempt', unit: 'lines', max: 5 } as const
    expect(truncatedLine(hit, 'truncate')).toMatch(/^LOG_TRUNCATED: .*5 lines per attempt.*dropped/)
    expect(truncatedLine(hit, 'fail')).toMatch(/^LOG_TRUNCATED: .*stopped/)
  })
})
