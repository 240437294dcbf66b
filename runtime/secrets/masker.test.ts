/** Tests for the Masker: several, overlapping and encoded secrets, multi-line values, maskDeep. */

import { describe, expect, it } from 'bun:test'
import { MIN_MASK_LENGTH, secretForms } from './encodings.ts'
import { MASK, Masker } from './masker.ts'

function maskerOf(...values: string[]): Masker {
  const m = new Masker()
  m.addAll(values)
  return m
}

describe('Masker', () => {
  it('masks several secrets in one string, every occurrence', () => {
    const m = maskerOf('alpha-secret', 'beta-secret')
    expect(m.mask('a=alpha-secret b=beta-secret again alpha-secret.')).toBe('a=*** b=*** again ***.')
  })

  it('leaves text without secrets untouched (same string)', () => {
    const m = maskerOf('alpha-secret')
    const text = 'nothing to see here'
    expect(m.mask(text)).toBe(text)
    expect(new Masker().mask('alpha-secret')).toBe('alpha-secret')
  })

  it('masks the union of overlapping secrets so no fragment of either survives', () => {
    const m = maskerOf('abcdef', 'defghi', 'cde')
    expect(m.mask('xx abcdefghi yy')).toBe('xx *** yy')
    expect(m.mask('__cde__')).toBe('__***__')
    const nested = maskerOf('token', 'my-token-value')
    expect(nested.mask('[my-token-value]')).toBe('[***]')
    expect(nested.mask('[token]')).toBe('[***]')
  })

  it('merges repeated and adjacent occurrences into one mask', () => {
    const m = maskerOf('abcabc')
    expect(m.mask('abcabcabc')).toBe('***')
    expect(m.mask('abcabcabcabc')).toBe('***')
  })

  it('masks base64 (standard and url-safe, padded or not) and base64 inside a longer encoded string', () => {
    const secret = 'p@ss?w>rd~~secret'
    const m = maskerOf(secret)
    const std = Buffer.from(secret).toString('base64')
    expect(m.mask(`Authorization: Basic ${std}`)).toBe('Authorization: Basic ***')
    expect(m.mask(Buffer.from(secret).toString('base64url'))).toBe(MASK)
    for (const prefix of ['u:', 'us:', 'use:', 'user:']) {
      const header = Buffer.from(`${prefix}${secret}`).toString('base64')
      expect(m.mask(header)).toContain(MASK)
      for (const suffix of ['', 'x', 'xy']) {
        const masked = m.mask(Buffer.from(`${prefix}${secret}${suffix}`).toString('base64'))
        // What survives is only the chars that also depend on the prefix/suffix bytes (plus padding).
        const allowed = Math.ceil((prefix.length * 4) / 3) + 1 + Math.ceil((suffix.length * 4) / 3) + 1 + 2
        expect(masked).toContain(MASK)
        expect(masked.replace(MASK, '').length).toBeLessThanOrEqual(allowed)
      }
    }
  })

  it('masks URL-encoded and form-encoded forms', () => {
    const secret = 'a b&c=d/é+f'
    const m = maskerOf(secret)
    expect(m.mask(`https://x.test/?q=${encodeURIComponent(secret)}&z=1`)).toBe('https://x.test/?q=***&z=1')
    expect(m.mask(`q=${encodeURIComponent(secret).replace(/%20/g, '+')}`)).toBe('q=***')
  })

  it('masks JSON-escaped and doubly JSON-escaped forms', () => {
    const secret = 'quote"back\\slash\nline'
    const m = maskerOf(secret)
    expect(m.mask(JSON.stringify({ token: secret }))).toBe('{"token":"***"}')
    expect(m.mask(JSON.stringify(JSON.stringify({ token: secret })))).toBe('"{\\"token\\":\\"***\\"}"')
  })

  it('masks each line of a multi-line secret printed line by line', () => {
    const pem = '-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END KEY-----'
    const m = maskerOf(pem)
    expect(m.mask(pem)).toBe(MASK)
    expect(m.mask('line: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC')).toBe('line: ***')
    expect(m.mask(pem.replace(/\n/g, '\r\n'))).not.toContain('MIIEvQ')
  })

  it(`ignores values shorter than ${MIN_MASK_LENGTH} chars and reports it`, () => {
    const m = new Masker()
    expect(m.add('ab')).toBe(false)
    expect(m.add('abc')).toBe(true)
    expect(m.add('abc')).toBe(true)
    expect(m.size).toBe(1)
    expect(m.mask('ab abc')).toBe('ab ***')
    expect(secretForms('')).toEqual([])
  })

  it('applies secrets added after a first mask', () => {
    const m = maskerOf('first-secret')
    expect(m.mask('first-secret second-secret')).toBe('*** second-secret')
    m.add('second-secret')
    expect(m.mask('first-secret second-secret')).toBe('*** ***')
  })

  it('masks many long secrets correctly', () => {
    const values = Array.from({ length: 50 }, (_, i) => `${i}-`.padEnd(1024, String.fromCharCode(97 + (i % 26))))
    const m = maskerOf(...values)
    const line = `start ${values[7]} mid ${Buffer.from(values[42] ?? '').toString('base64')} end`
    expect(m.mask(line)).toBe('start *** mid *** end')
  })
})

describe('Masker.maskDeep', () => {
  it('masks strings, keys, arrays and numbers in nested values without mutating them', () => {
    const m = maskerOf('tok-123456', '987654')
    const input = {
      url: 'https://api.test/?key=tok-123456',
      nested: { list: ['a', 'tok-123456', { deep: 'x tok-123456 y' }], 'tok-123456': 'as key' },
      count: 42,
      pin: 987654,
      ok: true,
      none: null,
    }
    const out: unknown = m.maskDeep(input)
    expect(out).toEqual({
      url: 'https://api.test/?key=***',
      nested: { list: ['a', '***', { deep: 'x *** y' }], '***': 'as key' },
      count: 42,
      pin: '***',
      ok: true,
      none: null,
    })
    expect(input.nested.list[1]).toBe('tok-123456')
    expect(JSON.stringify(out)).not.toContain('tok-123456')
  })

  it('masks an Error message, stack and extra fields', () => {
    const m = maskerOf('tok-123456')
    const e = Object.assign(new Error('call failed with tok-123456'), { code: 'X', body: { t: 'tok-123456' } })
    const out = m.maskDeep(e)
    expect(out).toBeInstanceOf(Error)
    expect(out.message).toBe('call failed with ***')
    expect(out.stack ?? '').not.toContain('tok-123456')
    expect(out.body).toEqual({ t: '***' })
    expect(out.code).toBe('X')
  })

  it('handles cycles', () => {
    const m = maskerOf('tok-123456')
    const a: Record<string, unknown> = { v: 'tok-123456' }
    a.self = a
    const out = m.maskDeep(a)
    expect(out.v).toBe('***')
    expect(out.self).toBe(out)
  })
})
