/** minMax: the smallest and largest time without spreading, so a list past the argument limit still works. */
import { describe, expect, it } from 'bun:test'
import { minMax } from './span.ts'

describe('minMax', () => {
  it('finds both ends of 200,000 times (past the ~125,000 arguments Math.min(...xs) takes)', () => {
    const xs = Array.from({ length: 200_000 }, (_, i) => 1_000_000 + ((i * 7919) % 200_000))
    xs[123_456] = 5
    xs[199_999] = 9_999_999
    expect(minMax(xs)).toEqual({ min: 5, max: 9_999_999 })
  })

  it('is undefined for no times and exact for one', () => {
    expect(minMax([])).toBeUndefined()
    expect(minMax([42])).toEqual({ min: 42, max: 42 })
  })
})
