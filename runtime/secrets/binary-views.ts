/**
 * Decoding views of base64 and hex runs in a text: each run read as the bytes it encodes (Latin-1, one char a
 * byte), so that a secret encoded twice (base64 of a form body, hex of a JSON payload) is found once the masker
 * has also unescaped the decoded text. Each decoded byte maps back to the group of chars that encodes it.
 */

import type { View } from './view-builder.ts'

/** Runs shorter than this are left alone: 16 base64 chars are 12 bytes, 16 hex digits 8. */
export const MIN_BASE64_RUN = 16
export const MIN_HEX_RUN = 16

/** A decoded run: where its text starts in the view, and its source start, end and group sizes. */
interface Piece { at: number; length: number; from: number; to: number; inChars: number; outChars: number }

const BASE64_RUN = /[A-Za-z0-9+/_-]{16,}/g
const HEX_RUN = /[0-9a-fA-F]{16,}/g
const HAS_UPPER = /[A-Z]/
const HAS_LOWER = /[a-z]/

/** Between two decoded runs in a view: a char no secret's form holds, so nothing matches across them. */
const SEPARATOR = '\u0000'

/**
 * The base64 runs of `s` (standard or url-safe, 16 chars or more, with both cases: base64 of text always has them,
 * a path or a lower-case id does not) decoded at each of the 4 char alignments: what precedes the encoded data in
 * the run (`/v1/items/`, `id-`) is unknown, so one alignment of the four reads it right. Undefined: no such run.
 */
export function base64View(s: string): View | undefined {
  if (s.length < MIN_BASE64_RUN) return undefined
  const pieces: Piece[] = []
  const parts: string[] = []
  let at = 0
  BASE64_RUN.lastIndex = 0
  for (let m = BASE64_RUN.exec(s); m; m = BASE64_RUN.exec(s)) {
    const run = m[0]
    if (!HAS_UPPER.test(run) || !HAS_LOWER.test(run)) continue
    for (let align = 0; align < 4 && run.length - align >= MIN_BASE64_RUN; align++) {
      const from = m.index + align
      const text = decodeBase64(s, from, m.index + run.length)
      if (text === undefined) continue
      pieces.push({ at, length: text.length, from, to: m.index + run.length, inChars: 4, outChars: 3 })
      parts.push(text, SEPARATOR)
      at += text.length + 1
    }
  }
  return pieces.length === 0 ? undefined : runsView(parts.join(''), pieces)
}

/** Values of the base64 chars, standard and url-safe alike (-1: not one). */
const SEXTET = new Int8Array(128).fill(-1)
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) SEXTET[c.charCodeAt(0)] = i
SEXTET[45] = 62 // -
SEXTET[95] = 63 // _
/** The string of each byte value, so that decoding is one table read and one concatenation a byte. */
const CHARS = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i))

/**
 * The bytes that base64 chars `s[from, to)` encode, one char a byte (a last group of 2 or 3 chars is 1 or 2
 * bytes). Decoded by hand: a line holds several runs, each read at 4 alignments, and a Buffer per reading costs
 * 4 times as much.
 */
function decodeBase64(s: string, from: number, to: number): string | undefined {
  let out = ''
  let acc = 0
  let bits = 0
  let n = 0
  let other = 0
  for (let i = from; i < to; i++) {
    acc = ((acc << 6) | SEXTET[s.charCodeAt(i)]!) & 0xffffff
    bits += 6
    if (bits < 8) continue
    bits -= 8
    const b = (acc >> bits) & 0xff
    if (!isText(b) && ++other > MAX_OTHER + (++n >> 3)) return undefined
    out += CHARS[b]!
  }
  return out
}

/** Printable ASCII, tab, CR, LF: what an encoded form body, JSON payload or header is made of. */
const isText = (b: number): boolean => (b >= 32 && b < 127) || b === 9 || b === 10 || b === 13
/**
 * Decoding stops, and the reading is dropped, once more than this many bytes plus one in 8 are no text: a wrong
 * alignment, or the base64 of binary data (a digest, a cursor, an image), is given up within a few bytes, so
 * only text is unescaped and searched. Text that is mostly not ASCII is given up too (see docs/secrets.md).
 */
const MAX_OTHER = 6

const nibble = (c: number): number => (c <= 57 ? c - 48 : (c | 32) - 87)

/** The bytes that hex digits `s[from, to)` (an even count) encode, one char a byte. */
function decodeHex(s: string, from: number, to: number): string | undefined {
  let out = ''
  let other = 0
  for (let i = from, n = 1; i < to; i += 2, n++) {
    const b = (nibble(s.charCodeAt(i)) << 4) | nibble(s.charCodeAt(i + 1))
    if (!isText(b) && ++other > MAX_OTHER + (n >> 3)) return undefined
    out += CHARS[b]!
  }
  return out
}

/** The hex runs of `s` (16 digits or more, one case) decoded from their start, and from their second digit too when odd. */
export function hexView(s: string): View | undefined {
  if (s.length < MIN_HEX_RUN) return undefined
  const pieces: Piece[] = []
  const parts: string[] = []
  let at = 0
  HEX_RUN.lastIndex = 0
  for (let m = HEX_RUN.exec(s); m; m = HEX_RUN.exec(s)) {
    const run = m[0]
    if (HAS_UPPER.test(run) && HAS_LOWER.test(run)) continue // mixed case: a word, or base64, not hex
    for (let align = 0; align < (run.length % 2 === 1 ? 2 : 1); align++) {
      const from = m.index + align
      const to = from + ((run.length - align) & ~1)
      const text = decodeHex(s, from, to)
      if (text === undefined) continue
      pieces.push({ at, length: text.length, from, to, inChars: 2, outChars: 1 })
      parts.push(text, SEPARATOR)
      at += text.length + 1
    }
  }
  return pieces.length === 0 ? undefined : runsView(parts.join(''), pieces)
}

/**
 * A view over decoded pieces. Char k maps to the source chars that carry its bits: 2 hex digits; in base64, the
 * j-th byte of a 4-char group is made of chars j and j+1 of it, so a match hides no char of what follows it. A
 * separator maps to its run's last char.
 */
function runsView(text: string, pieces: readonly Piece[]): View {
  const find = (k: number): Piece => {
    let lo = 0
    let hi = pieces.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (pieces[mid]!.at <= k) lo = mid
      else hi = mid - 1
    }
    return pieces[lo]!
  }
  const start = (p: Piece, k: number): number => {
    if (k >= p.at + p.length) return p.to - 1
    const i = k - p.at
    return p.from + Math.floor(i / p.outChars) * p.inChars + (p.inChars === 4 ? i % 3 : 0)
  }
  return {
    text,
    start: (k) => start(find(k), k),
    end: (k) => { const p = find(k); return Math.min(start(p, k) + 2, p.to) },
    decoded: true,
  }
}
