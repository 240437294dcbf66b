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

/** Issue 10, finding 13: encodings the masker knew, in spellings it missed. Each case is a class, not one string. */
describe('Masker: every standard spelling of the encodings it knows (issue 10, finding 13)', () => {
  const secret = 'sk-9f2c/8+Q=é&<"\'> z~0Pq7Lm'
  const m = maskerOf(secret)
  const bytes = Buffer.from(secret)
  const lowerPercent = (s: string) => s.replace(/%[0-9A-F]{2}/g, (x) => x.toLowerCase())
  /** Every char `%XX`-encoded, ASCII letters included. */
  const percentAll = (s: string) => [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')

  it('finds base64 wrapped at 76 columns (MIME, CRLF), at 64 (PEM) and at every other width', () => {
    const long = `${secret}${'-padding-'.repeat(12)}`
    const ml = maskerOf(long)
    const b64 = Buffer.from(long).toString('base64')
    for (let width = 1; width <= b64.length; width++) {
      for (const nl of ['\n', '\r\n', '\\n', '\n    ']) {
        const wrapped = b64.replace(new RegExp(`(.{${width}})(?!$)`, 'g'), `$1${nl}`)
        expect(`${width}:${ml.mask(`data: ${wrapped} end`)}`).toBe(`${width}:data: *** end`)
      }
    }
  })

  it('finds wrapped base64 of the secret inside a larger document, at each byte alignment, url-safe and unpadded too', () => {
    for (const before of ['', 'a', 'ab', '{"token":"']) {
      const doc = Buffer.from(`${before}${secret}","more":"${'x'.repeat(90)}"}`)
      for (const [enc, width] of [doc.toString('base64'), doc.toString('base64url')].flatMap((e) => [76, 20, 7].map((w) => [e, w] as const))) {
        const wrapped = enc.replace(new RegExp(`(.{${width}})`, 'g'), '$1\n')
        const masked = m.mask(wrapped)
        expect(masked).toContain(MASK)
        // The chars of the encoding that only the secret's bytes determine: none of their 8-char runs survives.
        const o = Buffer.byteLength(before)
        const own = enc.slice(Math.ceil((8 * o) / 6), Math.floor((8 * (o + bytes.length)) / 6))
        expect(wrapped.replace(/\n/g, '')).toContain(own)
        for (let i = 0; i + 8 <= own.length; i++) expect(masked.replace(/\n/g, '')).not.toContain(own.slice(i, i + 8))
      }
    }
  })

  it('finds percent-encoding in any case, of any subset of the characters, and encoded twice', () => {
    const spellings = [
      encodeURI(secret), // keeps / + = & ~ and more
      lowerPercent(encodeURIComponent(secret)),
      lowerPercent(encodeURI(secret)),
      percentAll(secret), // letters encoded too
      secret.replace(/[/&<>"' ]/g, (c) => encodeURIComponent(c)), // only a few chars encoded, é left raw
      encodeURIComponent(encodeURIComponent(secret)), // double encoding (%25xx)
      encodeURIComponent(secret).replace(/%20/g, '+').replace(/%2F/g, '/'), // form-encoded, / kept
    ]
    for (const s of spellings) expect(`${s} → ${m.mask(`https://x.test/cb?t=${s}&n=1`)}`).toBe(`${s} → https://x.test/cb?t=***&n=1`)
  })

  it('finds HTML escaping: named, decimal and hex entities, alone and mixed, with or without the legacy `;`', () => {
    const named = secret.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')
    const spellings = [
      named,
      named.replace('&apos;', '&#39;').replace('&amp;', '&#38;'),
      [...secret].map((c) => `&#${c.codePointAt(0)};`).join(''),
      [...secret].map((c) => `&#x${c.codePointAt(0)!.toString(16)};`).join(''),
      [...secret].map((c) => `&#X${c.codePointAt(0)!.toString(16).toUpperCase()};`).join(''),
      secret.replace('/', '&sol;').replace('+', '&plus;').replace('=', '&equals;').replace('~', '&tilde;').replace(/&(?!\w+;)/, '&amp'),
    ]
    for (const s of spellings) expect(`${s} → ${m.mask(`<td title="${s}">`)}`).toBe(`${s} → <td title="***">`)
  })

  it('finds \\u-escaped JSON (any case, surrogate pairs), \\x and \\/ escapes, and JSON inside JSON', () => {
    const u = (s: string, upper = false) => [...s].map((c) => {
      const cp = c.codePointAt(0)!
      const units = cp > 0xffff ? [0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff)] : [cp]
      return units.map((n) => `\\u${upper ? n.toString(16).toUpperCase().padStart(4, '0') : n.toString(16).padStart(4, '0')}`).join('')
    }).join('')
    const withEmoji = `${secret}😀`
    const me = maskerOf(withEmoji)
    const spellings = [
      u(secret), u(secret, true),
      JSON.stringify(secret).slice(1, -1).replace(/[<>&'é]/g, (c) => u(c)), // Go / Python ensure_ascii style
      JSON.stringify(secret).slice(1, -1).replace(/\//g, '\\/'), // PHP's escaped slash
      secret.replace(/[^\w]/g, (c) => (c.charCodeAt(0) < 256 ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c)),
    ]
    for (const s of spellings) expect(`${s} → ${m.mask(`{"token":"${s}"}`)}`).toBe(`${s} → {"token":"***"}`)
    expect(me.mask(`"${u(withEmoji)}"`)).toBe('"***"')
    // JSON inside JSON, with \u escapes at the inner level.
    const inner = `{"token":"${u(secret)}"}`
    expect(m.mask(JSON.stringify({ payload: inner }))).toBe(JSON.stringify({ payload: '{"token":"***"}' }))
  })

  it('finds hex in either case, wrapped like xxd -p, and base64 inside a percent-encoded URL', () => {
    const hex = bytes.toString('hex')
    for (const s of [hex, hex.toUpperCase(), hex.replace(/(.{60})/g, '$1\n')]) expect(m.mask(`dump ${s} end`)).toBe(`dump ${MASK} end`)
    const b64 = bytes.toString('base64')
    expect(m.mask(`https://x.test/?sig=${encodeURIComponent(b64)}`)).toBe('https://x.test/?sig=***')
    expect(m.mask(`https://x.test/?sig=${lowerPercent(encodeURIComponent(b64))}`)).toBe('https://x.test/?sig=***')
  })

  it('maps a match in a decoded view back to exactly the source chars it came from', () => {
    expect(m.mask(`a${encodeURI(secret)}b`)).toBe(`a${MASK}b`)
    expect(m.mask(`[${percentAll(secret)}]`)).toBe(`[${MASK}]`)
    expect(m.mask(`x &lt;${secret.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}&gt; y`)).toBe(`x &lt;${MASK}&gt; y`)
  })

  it('does not mask text that merely looks encoded', () => {
    const text = 'GET /a%2Fb?q=%41%42 &amp; &#x41; \\u0041 \\n done'
    expect(m.mask(text)).toBe(text)
    expect(maskerOf('0123456789abcdef').mask('id 30313233 short hex')).toBe('id 30313233 short hex')
  })
})
