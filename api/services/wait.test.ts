import { describe, expect, it } from 'bun:test'
import { AppError } from '../../runtime/errors.ts'
import { parseWait } from './wait.ts'

describe('parseWait (?wait= on a start)', () => {
  it('reads a duration as the workflows write them, cut to the server maximum', () => {
    expect(parseWait('250ms', 60_000)).toBe(250)
    expect(parseWait('1.5s', 60_000)).toBe(1500)
    expect(parseWait('0s', 60_000)).toBe(0)
    expect(parseWait('5m', 60_000)).toBe(60_000)
    expect(parseWait('1h', 3_600_000)).toBe(3_600_000)
  })

  it('refuses anything else with INVALID_INPUT at query.wait, naming the maximum', () => {
    for (const bad of ['', '30', 'soon', '-1s', '1 s', '2y', '99999999999999999999d']) {
      let err: unknown
      try {
        parseWait(bad, 60_000)
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(AppError)
      expect((err as AppError).toInfo()).toMatchObject({ code: 'INVALID_INPUT', details: { path: 'query.wait', maxSeconds: 60 } })
    }
  })
})
