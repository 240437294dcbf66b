import { describe, expect, it } from 'bun:test'
import { ManualClock, MAX_DURATION_MS, parseDuration } from './clock.ts'

describe('durations', () => {
  it('parses the units a workflow may use', () => {
    expect(['250ms', '30s', '5m', '1h', '1d', '1.5s'].map(parseDuration)).toEqual([250, 30_000, 300_000, 3_600_000, 86_400_000, 1500])
  })
  it('refuses malformed, endless and over-a-year durations instead of storing them as null', () => {
    expect(parseDuration('5 minutes')).toBeUndefined()
    expect(parseDuration(`${'9'.repeat(400)}d`)).toBeUndefined()
    expect(parseDuration('366d')).toBeUndefined()
    expect(parseDuration('365d')).toBe(MAX_DURATION_MS)
  })
})

describe('manual clock', () => {
  it('wakes sleepers in deadline order only when advanced', async () => {
    const clock = new ManualClock(0)
    const woke: number[] = []
    void clock.sleep(200).then(() => woke.push(200))
    void clock.sleep(100).then(() => woke.push(100))
    await clock.advance(150)
    expect(woke).toEqual([100])
    await clock.advance(100)
    expect(woke).toEqual([100, 200])
    expect(clock.now()).toBe(250)
  })
})
