/**
 * Decoded views of byte arrays as programs print them by accident: runs of hex bytes (`<Buffer 73 6b …>`,
 * `73:6b:…`, `0x73, 0x6b`, xxd's `736b 5f6c`) and of decimal bytes (`Uint8Array(32) [ 115, 107, … ]`, a JSON
 * `[115,107,…]`, `{"0":115,"1":107}`, Java's signed `-61`), each rewritten as the bytes' lower-case hex, so the
 * hex forms the masker already knows match them, and mapped back to the tokens they came from.
 */

import { builder, type View } from './view-builder.ts'

/** A run shorter than this is left alone (a time of day `22:13:20` is three "hex bytes"); a whole hex form is 6 or more. */
const MIN_RUN_BYTES = 4

type Kind = 'hex' | 'dec'

// Between two bytes: a comma (a JSON key `"12":` after it, quotes around the tokens, a line break, real or
// escaped, as in an indented array), blanks (one line break allowed, as in `od` rows), a colon (`73:6b`) or a
// dash (.NET's BitConverter: `73-6B`, two-digit bytes only, so that a date is no run).
const COMMA = /['"]?[ \t]*,[ \t]*(?:(?:\r?\n|\\r?\\n)[ \t]*)?(?:"\d+"[ \t]*:[ \t]*)?['"]?/y
const SPACE = /[ \t]*(?:\r?\n|\\r?\\n)[ \t]*|[ \t]+/y
const COLON = /:/y
const DASH = /-(?=[0-9a-fA-F]{2}(?![0-9A-Za-z_]))/y
const SEPARATORS: Record<Kind, readonly RegExp[]> = { hex: [COMMA, SPACE, COLON, DASH], dec: [COMMA, SPACE] }
/** Hex digits of a secret's beginning that must show at the end of a run to be hidden: 4 bytes (3 may show). */
export const CUT_MIN_HEX = 8
/** What may follow the last token of a run that the text's end leaves open. */
const OPEN_TAIL = /['"]?[ \t]*,?[ \t]*$/y

const isWord = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95
const isHexDigit = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)

/** One byte-array token: where it is in the source, how many digits it has, the hex of the bytes it stands for. */
interface Token { from: number; to: number; digits: number; hex: string }

/** The token of `kind` that begins at `i` (a word start), or undefined. */
function tokenAt(s: string, i: number, kind: Kind): Token | undefined {
  let j = i
  if (kind === 'dec') {
    const neg = s.charCodeAt(j) === 45
    if (neg) j++
    let v = 0
    const d0 = j
    while (j < s.length && j - d0 < 4 && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) v = v * 10 + s.charCodeAt(j++) - 48
    const digits = j - d0
    if (digits === 0 || digits > 3 || !wordEnds(s, j)) return undefined
    if (neg ? v === 0 || v > 128 : v > 255) return undefined
    const b = neg ? 256 - v : v // Java prints bytes signed
    return { from: i, to: j, digits, hex: (b < 16 ? '0' : '') + b.toString(16) }
  }
  const prefixed = s.charCodeAt(j) === 48 && (s.charCodeAt(j + 1) | 32) === 120 && isHexDigit(s.charCodeAt(j + 2))
  if (prefixed) j += 2 // 0x
  const d0 = j
  while (j < s.length && isHexDigit(s.charCodeAt(j))) j++
  const n = j - d0
  if (n === 0 || (n > 1 && n % 2 === 1) || !wordEnds(s, j)) return undefined
  const hex = s.slice(d0, j).toLowerCase()
  return { from: i, to: j, digits: prefixed ? 0 : n, hex: n === 1 ? `0${hex}` : hex }
}

/** Whether a token may end at `j`: not inside a word, and not a version or an address (`1.2.3`). */
const wordEnds = (s: string, j: number): boolean =>
  j >= s.length || (!isWord(s.charCodeAt(j)) && !(s.charCodeAt(j) === 46 && isWord(s.charCodeAt(j + 1))))

/**
 * Whether a token may follow `sep` in a run whose first token is `first`: one-digit hex (`toString(16)` without
 * padding) only in a comma-separated list, dashes only between two-digit bytes.
 */
function fits(sep: RegExp, t: Token, first: Token): boolean {
  if (sep === DASH) return t.digits === 2 && first.digits === 2
  return sep === COMMA || (t.digits !== 1 && first.digits !== 1)
}

/** A maximal run of tokens of one kind with one kind of separator, from `first`. */
function runAt(s: string, first: Token, kind: Kind): Token[] {
  const run = [first]
  let sep: RegExp | undefined
  let at = first.to
  for (;;) {
    let next: Token | undefined
    for (const re of SEPARATORS[kind]) {
      if (sep !== undefined && re !== sep) continue
      re.lastIndex = at
      if (!re.test(s)) continue
      const t = tokenAt(s, re.lastIndex, kind)
      if (t && fits(re, t, first)) { next = t; sep = re; break }
    }
    if (!next) return run
    run.push(next)
    at = next.to
  }
}

/** Char classes for `mayHoldBytes`: 1 hex digit, 2 other word char, 3 separator, 0 anything else. */
const CLASS = new Uint8Array(128)
for (let c = 0; c < 128; c++) {
  CLASS[c] = isHexDigit(c) ? 1 : isWord(c) ? 2 : ' \t\r\n,:\'"-'.includes(String.fromCharCode(c)) ? 3 : 0
}

/**
 * Whether `s` may hold a byte run worth a view: two words that could be bytes (hex of an even length or 0x…,
 * decimal of up to 3 digits) with nothing but separators between them, three such words, or two with 8
 * digits. One pass over the chars with a table, so an ordinary line costs little more than that pass.
 */
export function mayHoldBytes(s: string): boolean {
  let tokens = 0
  let digits = 0
  let len = 0
  let hex = false
  let dec = false
  for (let i = 0, n = s.length; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : 32
    const k = c < 128 ? CLASS[c]! : 0
    if (k === 1) {
      if (len === 0) { hex = true; dec = true }
      if (c > 57) dec = false
      len++
      continue
    }
    if (k === 2) {
      if (len === 1 && (c | 32) === 120 && s.charCodeAt(i - 1) === 48) { len = 0; hex = true; dec = false; continue } // 0x
      len++
      hex = dec = false
      continue
    }
    if (len > 0) {
      const token = c !== 46 && ((hex && len % 2 === 0) || (dec && len <= 3))
      if (!token) tokens = digits = 0
      else if (++tokens >= 2 && (tokens >= 3 || (digits += len) >= 8)) return true
      else if (tokens === 1) digits = len
      len = 0
    }
    if (k === 0) tokens = digits = 0
  }
  return false
}

/** The two byte views of a text (hex runs, decimal runs), only those that decode something. */
export function byteViews(s: string): View[] {
  const out: View[] = []
  for (const kind of ['hex', 'dec'] as const) {
    const v = viewOf(s, kind)
    if (v) out.push(v)
  }
  return out
}

function viewOf(s: string, kind: Kind): View | undefined {
  let b: ReturnType<typeof builder> | undefined
  let copied = 0
  const cuts: number[] = []
  let openEnd: number | undefined
  let openFrom = 0
  const n = s.length
  let i = 0
  while (i < n) {
    const c = s.charCodeAt(i)
    const start = kind === 'dec' && c === 45 ? i : isWord(c) ? i : -1
    if (start < 0) { i++; continue }
    // A token starts a word: not after a letter or a dot (`v1.2`, `id=4f7c` is fine: `=` is no word char).
    const before = start > 0 ? s.charCodeAt(start - 1) : 32
    const first = isWord(before) || before === 46 ? undefined : tokenAt(s, start, kind)
    if (!first) { i = skipWord(s, start + 1); continue }
    const run = runAt(s, first, kind)
    const last = run[run.length - 1]!
    const bytes = run.reduce((sum, t) => sum + t.hex.length / 2, 0)
    OPEN_TAIL.lastIndex = last.to
    const open = OPEN_TAIL.test(s)
    // One token is no run (a hex word is matched as it is, and a commit id's beginning is no secret's), unless it
    // is all the text and may go on: an array printed one byte per line.
    const alone = run.length === 1 && open && /^[ \t[{]*$/.test(s.slice(0, first.from))
    if ((run.length >= 2 && (bytes >= MIN_RUN_BYTES || open)) || alone) {
      b ??= builder(s)
      b.copy(copied, first.from)
      for (const t of run) b.emit(t.hex, t.from, t.to)
      copied = last.to
      // A run may end inside a secret: the printer left the rest out (`... 122 more bytes`, Bun and Node show 50
      // bytes of a Buffer and 100 items of an array), or the data itself stopped there.
      cuts.push(b.length)
      if (open) { openEnd = b.length; openFrom = first.from }
    }
    i = last.to
  }
  if (!b) return undefined
  b.copy(copied, n)
  const v = b.done()
  v.cuts = cuts
  v.cutMin = CUT_MIN_HEX
  if (openEnd !== undefined) Object.assign(v, { openEnd, openFrom })
  return v
}

function skipWord(s: string, i: number): number {
  while (i < s.length && isWord(s.charCodeAt(i))) i++
  return i
}
