/** Tests for the terminal guard's escaping (issue 10, finding 8): what is escaped, what is kept, what cannot be forged. */
import { describe, expect, it } from 'bun:test'
import { ansi, escapeControls, terminalSafe } from './terminal.ts'

describe('terminalSafe', () => {
  it('escapes C0 (but tab and newline), DEL, C1, bidi controls, separators, zero-width and tag characters', () => {
    const cases: [string, string][] = [
      ['\x1b]52;c;QQ==\x07', '\\x1b]52;c;QQ==\\x07'], ['a\rb', 'a\\x0db'], ['\x00\x08\x0b\x0c\x7f', '\\x00\\x08\\x0b\\x0c\\x7f'],
      ['\u0085\u009b\u009d\u009f', '\\x85\\x9b\\x9d\\x9f'], ['\u202a\u202b\u202c\u202d\u202e', '\\u202a\\u202b\\u202c\\u202d\\u202e'],
      ['\u2066\u2067\u2068\u2069\u061c\u200e\u200f', '\\u2066\\u2067\\u2068\\u2069\\u061c\\u200e\\u200f'],
      ['\u2028\u2029\u200b\ufeff\u2060', '\\u2028\\u2029\\u200b\\ufeff\\u2060'], ['x\u{E0041}y', 'x\\u{e0041}y'],
    ]
    for (const [raw, shown] of cases) expect(terminalSafe(raw)).toBe(shown)
  })

  it('keeps text, tabs, newlines, accents, CJK and emoji (ZWJ sequences too) as they are', () => {
    for (const s of ['plain\ttext\nnext', 'café Ω 漢字', '👩‍💻 🇫🇷', '\\x1b is already text']) expect(terminalSafe(s)).toBe(s)
  })

  it('turns the CLI\'s own sequences into real ones, and nothing else can pass for one', () => {
    const bold = `${ansi('\x1b[1m')}title${ansi('\x1b[22m')}`
    expect(terminalSafe(`${bold} \x1b[1mforged`)).toBe('\x1b[1mtitle\x1b[22m \\x1b[1mforged')
    // A token's shape without the per-process nonce is plain text.
    expect(terminalSafe('\ue000000000000000[2J\ue001')).toBe('\ue000000000000000[2J\ue001')
    expect(() => ansi('[1m')).toThrow()
    expect(() => ansi('\x1b]52;c;\x07')).toThrow()
    expect(escapeControls('safe')).toBe('safe')
  })
})
