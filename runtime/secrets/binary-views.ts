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

/** Char classes: 1 base64 char, 2 hex digit, 4 upper-case letter, 8 lower-case letter. */
const CLASS = new Uint8Array(128)
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c)
  CLASS[c] = (/[A-Za-z0-9+/_-]/.test(ch) ? 1 : 0) | (/[0-9a-fA-F]/.test(ch) ? 2 : 0) | (/[A-Z]/.test(ch) ? 4 : 0) | (/[a-z]/.test(ch) ? 8 : 0)
}

/** A run of chars in `s`: `[from, to)`. */
interface Run { from: number; to: number }

/**
 * The base64 runs (16+ chars of the alphabet, both letter cases) and hex runs (16+ hex digits, one case) of `s`, in
 * one pass with a table: a line with neither costs that pass alone, where a regex per kind cost 3 times as much.
 */
export function binaryRuns(s: string): { base64: Run[]; hex: Run[] } {
  const base64: Run[] = []
  const hex: Run[] = []
  let b64From = -1
  let b64Case = 0
  let hexFrom = -1
  let hexCase = 0
  for (let i = 0, n = s.length; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : 32
    const k = c < 128 ? CLASS[c]! : 0
    if (k & 2) {
      if (hexFrom < 0) { hexFrom = i; hexCase = 0 }
      hexCase |= k
    } else if (hexFrom >= 0) {
      if (i - hexFrom >= MIN_HEX_RUN && (hexCase & 12) !== 12) hex.push({ from: hexFrom, to: i })
      hexFrom = -1
    }
    if (k & 1) {
      if (b64From < 0) { b64From = i; b64Case = 0 }
      b64Case |= k
    } else if (b64From >= 0) {
      if (i - b64From >= MIN_BASE64_RUN && (b64Case & 12) === 12) base64.push({ from: b64From, to: i })
      b64From = -1
    }
  }
  return { base64, hex }
}

/** Between two decoded runs in a view: a char no secret's form holds, so nothing matches across them. */
const SEPARATOR = '\u0000'

/**
 * The base64 runs of `s` (standard or url-safe, 16 chars or more, with both cases: base64 of text always has them,
 * a path or a lower-case id does not) decoded at each of the 4 char alignments: what precedes the encoded data in
 * the run (`/v1/items/`, `id-`) is unknown, so one alignment of the four reads it right. Undefined: no such run.
 */
export function base64View(s: string, runs = binaryRuns(s).base64): View | undefined {
  const pieces: Piece[] = []
  const parts: string[] = []
  let at = 0
  for (const { from: start, to } of runs) {
    for (let align = 0; align < 4 && to - start - align >= MIN_BASE64_RUN; align++) {
      const from = start + align
      const text = decodeBase64(s, from, to)
      if (text === undefined) continue
      pieces.push({ at, length: text.length, from, to, inChars: 4, outChars: 3 })
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
  // Two passes: the first only judges, so that a reading given up (most of them) builds no string.
  for (const build of [false, true]) {
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
      if (!build && !isText(b) && ++other > MAX_OTHER + (++n >> 3)) return undefined
      if (build) out += CHARS[b]!
      else if (isText(b)) n++
    }
    if (build) return out
  }
  return undefined
}

/** Printable ASCII, tab, CR, LF: what an encoded form body, JSON payload or header is made of. */
const isText = (b: number): boolean => (b >= 32 && b < 127) || b === 9 || b === 10 || b === 13
/**
 * Decoding stops, and the reading is dropped, once more than this many bytes plus one in 8 are no text: a wrong
 * alignment, or the base64 of binary data (a digest, a cursor, an image), is given up within a few bytes, so
 * only text is unescaped and searched. Text that is mostly not ASCII is given up too (see docs/secrets.md). Not
 * less: what precedes the encoded data in its run (`/v1/decode/`) decodes to a few bytes of no text first, and a
 * run of 8 bytes (a 64-bit trace id in hex) is always kept, which the bench's hex corpus pays for.
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
export function hexView(s: string, runs = binaryRuns(s).hex): View | undefined {
  const pieces: Piece[] = []
  const parts: string[] = []
  let at = 0
  for (const run of runs) {
    for (let align = 0; align < ((run.to - run.from) % 2 === 1 ? 2 : 1); align++) {
      const from = run.from + align
      const to = from + ((run.to - from) & ~1)
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
