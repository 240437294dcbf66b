/** Tests for the streaming line masker: secrets split across chunks, CRLF, long lines, flush. */

import { describe, expect, it } from 'bun:test'
import { createLineMasker } from './line-masker.ts'
import { Masker } from './masker.ts'

function maskerOf(...values: string[]): Masker {
  const m = new Masker()
  m.addAll(values)
  return m
}

/** Feeds `text` in chunks of `size` chars and returns every emitted line. */
function stream(m: Masker, text: string, size: number, maxLineLength?: number): string[] {
  const lm = createLineMasker(m, maxLineLength === undefined ? {} : { maxLineLength })
  const out: string[] = []
  for (let i = 0; i < text.length; i += size) out.push(...lm.push(text.slice(i, i + size)))
  out.push(...lm.flush())
  return out
}

describe('createLineMasker', () => {
  it('masks a secret split across chunk boundaries, at every split size', () => {
    const secret = 'sk_live_0123456789abcdef'
    const m = maskerOf(secret)
    const text = `starting\ncalling with ${secret} now\ndone ${secret}`
    for (let size = 1; size <= text.length; size++) {
      expect(stream(m, text, size)).toEqual(['starting', 'calling with *** now', 'done ***'])
    }
  })

  it('returns only complete lines from push and the rest on flush', () => {
    const lm = createLineMasker(maskerOf('secret-value'))
    expect(lm.push('partial secret-')).toEqual([])
    expect(lm.push('value\nnext')).toEqual(['partial ***'])
    expect(lm.push(' line\r\n\n')).toEqual(['next line', ''])
    expect(lm.flush()).toEqual([])
    expect(lm.push('tail secret-value')).toEqual([])
    expect(lm.flush()).toEqual(['tail ***'])
  })

  it('masks every line of a multi-line secret echoed by a plugin, chunked', () => {
    const secret = 'line-one-of-key\nline-two-of-key\nline-three-of-key'
    const m = maskerOf(secret)
    const lines = stream(m, `key:\n${secret}\nend\n`, 5)
    expect(lines).toEqual(['key:', '***', '***', '***', 'end'])
  })

  it('splits an over-long line without cutting through a secret', () => {
    const secret = 'SECRET-VALUE-0123456789'
    const m = maskerOf(secret)
    const text = `${'x'.repeat(37)}${secret}${'y'.repeat(50)}${secret}${'z'.repeat(41)}`
    for (const size of [1, 7, 16, 64]) {
      const pieces = stream(m, text, size, 40)
      expect(pieces.length).toBeGreaterThan(1)
      const joined = pieces.join('')
      expect(joined).toBe(`${'x'.repeat(37)}***${'y'.repeat(50)}***${'z'.repeat(41)}`)
      for (const p of pieces) expect(p).not.toContain('SECRET')
    }
  })
})

/** Issue 10, finding 13: base64 (or hex) wrapped over several log lines, which no single line shows whole. */
describe('createLineMasker: secrets wrapped over several lines (issue 10, finding 13)', () => {
  const secret = 'wrap-Secret/Value+0123456789=abcdefghij'
  const m = maskerOf(secret)

  it('masks base64 printed at every width (76 like `base64`, 64 like PEM, …), chunked, CRLF or LF', () => {
    const b64 = Buffer.from(secret).toString('base64')
    for (let width = 1; width <= b64.length + 1; width++) {
      for (const nl of ['\n', '\r\n']) {
        const block = b64.replace(new RegExp(`(.{${width}})(?!$)`, 'g'), `$1${nl}`)
        const out = stream(m, `begin${nl}${block}${nl}after${nl}`, 13)
        expect(out[0]).toBe('begin')
        expect(out.at(-1)).toBe('after')
        // At most 3 chars of the encoding can show: a block's first line shorter than that is not held back.
        const shown = out.slice(1, -1).join('').replaceAll('***', '')
        expect(`${width}:${shown.length <= 3}`).toBe(`${width}:true`)
        expect(out.slice(1, -1).some((l) => l.includes('***'))).toBe(true)
      }
    }
  })

  it('masks the secret inside a wrapped base64 document at each byte alignment, and hex wrapped like xxd -p', () => {
    for (const before of ['', 'x', 'xy', '{"user":"u","token":"']) {
      const doc = Buffer.from(`${before}${secret}"}`)
      const o = Buffer.byteLength(before)
      for (const [enc, width] of [[doc.toString('base64'), 76], [doc.toString('base64'), 9], [doc.toString('hex'), 60]] as const) {
        const out = stream(m, `${enc.replace(new RegExp(`(.{${width}})`, 'g'), '$1\n')}\ndone\n`, 7)
        const shownText = out.join('')
        const own = enc.length === doc.length * 2 ? enc.slice(2 * o, 2 * (o + Buffer.byteLength(secret)))
          : enc.slice(Math.ceil((8 * o) / 6), Math.floor((8 * (o + Buffer.byteLength(secret))) / 6))
        for (let i = 0; i + 8 <= own.length; i++) expect(shownText).not.toContain(own.slice(i, i + 8))
        expect(out.at(-1)).toBe('done')
      }
    }
  })

  it('masks an unfinished wrapped block at the end of the stream, and holds nothing back for ordinary lines', () => {
    const b64 = Buffer.from(secret).toString('base64')
    const lm = createLineMasker(m)
    expect(lm.push(`${b64.slice(0, 20)}\n`)).toEqual([])
    expect(lm.flush()).toEqual(['***'])
    const plain = createLineMasker(m)
    for (const line of ['starting', 'GET /items 200 12ms', 'QUJDRA==', 'done']) expect(plain.push(`${line}\n`)).toEqual([line])
  })
})

/**
 * Review finding 5 (second case), class "a form folded a few chars into its value": a line that ends 1–3 chars into
 * a form is not held back (that would hold every line ending in a short word), so the rest of the form, on the
 * next lines, must be found on its own. Variants: every fold offset, base64 (standard, url-safe), hex in both
 * cases, the raw value (a token of base64 chars, and a JWT, which has dots), the rest indented or not and wrapped
 * again at any width.
 */
describe('createLineMasker: a form folded a few chars into its value (review finding 5)', () => {
  const token = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'
  const m = maskerOf(token, jwt)
  const forms: [string, string][] = [
    ['base64', Buffer.from(token).toString('base64')], ['base64url', Buffer.from(token).toString('base64url')],
    ['hex', Buffer.from(token).toString('hex')], ['HEX', Buffer.from(token).toString('hex').toUpperCase()],
    ['raw token', token], ['JWT', jwt],
  ]
  for (const [name, form] of forms) {
    it(`${name}: at most the chars before the fold show, and never more than 3`, () => {
      for (let k = 1; k <= 8; k++) {
        for (const indent of ['', ' ', '\t', '    ']) {
          for (const width of [Infinity, 24, 7]) {
            const header = 'X-Api-Credential: '
            const rest = form.slice(k)
            const wrapped = width === Infinity ? [rest] : rest.match(new RegExp(`.{1,${width}}`, 'g'))!
            const text = `${header}${form.slice(0, k)}\n${wrapped.map((l) => `${indent}${l}`).join('\n')}\nnext line\n`
            const out = stream(m, text, 11)
            expect(out.at(-1)).toBe('next line')
            const shown = out.slice(0, -1).join('').replace(header, '').replace(/\*\*\*|\s/g, '')
            expect(`${k}/${JSON.stringify(indent)}/${width}: ${shown.length <= Math.min(k, 3) ? 'ok' : shown}`).toBe(`${k}/${JSON.stringify(indent)}/${width}: ok`)
          }
        }
      }
    })
  }
})
