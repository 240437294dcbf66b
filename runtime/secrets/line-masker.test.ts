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
