/**
 * Decoded views of a text, for the masker: percent-, HTML-, JSON/JS-unescaped and line-break-free copies,
 * each with a map from its chars back to the source range they came from.
 */

import { builder, type View } from './view-builder.ts'
import { byteViews, mayHoldBytes } from './byte-views.ts'
import { base64View, binaryRuns, hexView } from './binary-views.ts'
import { dumpViews } from './dump-views.ts'

export type { View } from './view-builder.ts'

const hexValue = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1

/** A decoded escape found at some position: the chars it stands for and how many source chars it spans. */
interface Decoded { chars: string; length: number }

/** The byte of `%XX` at `i` (hex in either case), or -1. */
function percentByte(s: string, i: number): number {
  if (s.charCodeAt(i) !== 37 || i + 2 >= s.length) return -1
  const hi = hexValue(s.charCodeAt(i + 1))
  const lo = hexValue(s.charCodeAt(i + 2))
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo
}

/** Length of the UTF-8 sequence a lead byte starts (0 when it cannot start one). */
const utf8Length = (b: number): number => (b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0)

/**
 * `%XX` at `i`, upper or lower case, whichever characters the encoder chose to encode (encodeURI keeps `/`,
 * encodeURIComponent does not, some encode every byte): a multi-byte UTF-8 sequence decodes to its char.
 * `+` is left alone (the masker also knows a value's form-encoded spelling, `+` for space).
 */
function percentAt(s: string, i: number): Decoded | undefined {
  const byte = percentByte(s, i)
  const len = byte < 0 ? 0 : utf8Length(byte)
  if (len === 0) return undefined
  let cp = len === 1 ? byte : len === 2 ? byte & 0x1f : len === 3 ? byte & 0x0f : byte & 0x07
  for (let n = 1; n < len; n++) {
    const cont = percentByte(s, i + 3 * n)
    if (cont < 0x80 || cont >= 0xc0) return undefined
    cp = (cp << 6) | (cont & 0x3f)
  }
  return cp > 0x10ffff ? undefined : { chars: String.fromCodePoint(cp), length: 3 * len }
}

/** Named entities an HTML escaper uses for ASCII (HTML5 names every punctuation char) plus `&nbsp;`. */
const NAMED: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', excl: '!', num: '#', dollar: '$', percnt: '%',
  lpar: '(', rpar: ')', ast: '*', midast: '*', plus: '+', comma: ',', period: '.', sol: '/', colon: ':', semi: ';',
  equals: '=', quest: '?', commat: '@', lsqb: '[', lbrack: '[', bsol: '\\', rsqb: ']', rbrack: ']', Hat: '^',
  lowbar: '_', UnderBar: '_', grave: '`', DiacriticalGrave: '`', lcub: '{', lbrace: '{', verbar: '|', vert: '|',
  VerticalLine: '|', rcub: '}', rbrace: '}', tilde: '~', DiacriticalTilde: '~', Tab: '\t', NewLine: '\n', hyphen: '-',
  dash: '-', minus: '-',
}
/** Legacy names browsers accept without the `;`. */
const LEGACY = new Set(['amp', 'lt', 'gt', 'quot', 'nbsp'])
const ENTITY = /&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z][A-Za-z0-9]{1,31}))(;?)/y

/** An HTML entity at `i`: named (`&amp;`, `&sol;`…), decimal (`&#47;`) or hex (`&#x2F;`, `&#X2f;`); `;` optional where browsers allow it. */
function entityAt(s: string, i: number): Decoded | undefined {
  ENTITY.lastIndex = i
  const m = ENTITY.exec(s)
  if (!m) return undefined
  if (m[1] !== undefined || m[2] !== undefined) {
    const cp = m[1] !== undefined ? Number(m[1]) : parseInt(m[2]!, 16)
    return cp > 0 && cp <= 0x10ffff ? { chars: String.fromCodePoint(cp), length: m[0].length } : undefined
  }
  const named = NAMED[m[3]!]
  return named !== undefined && (m[4] === ';' || LEGACY.has(m[3]!)) ? { chars: named, length: m[0].length } : undefined
}

const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', "'": "'", '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '0': '\0' }
const CODE_ESCAPE = /\\(?:u([0-9a-fA-F]{4})|u\{([0-9a-fA-F]{1,6})\}|x([0-9a-fA-F]{2}))/y

/**
 * A JSON or JavaScript string escape at `i`: `\uXXXX` in either case (surrogate pairs joined), `\u{…}`,
 * `\xXX`, `\/`, `\"` and the one-letter escapes. Serialisers that escape more than JSON.stringify does
 * (Python's ensure_ascii, Go's `\u003c`, PHP's `\/`) all come out as the plain text.
 */
function escapeAt(s: string, i: number): Decoded | undefined {
  CODE_ESCAPE.lastIndex = i
  const m = CODE_ESCAPE.exec(s)
  if (m) {
    let cp = parseInt(m[1] ?? m[2] ?? m[3]!, 16)
    let length = m[0].length
    if (m[1] !== undefined && cp >= 0xd800 && cp < 0xdc00) {
      CODE_ESCAPE.lastIndex = i + length
      const low = CODE_ESCAPE.exec(s)
      const lo = low?.[1] !== undefined ? parseInt(low[1], 16) : -1
      if (lo >= 0xdc00 && lo < 0xe000) { cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00); length += low![0].length }
    }
    return cp <= 0x10ffff ? { chars: String.fromCodePoint(cp), length } : undefined
  }
  const simple = SIMPLE_ESCAPES[s[i + 1] ?? '']
  return simple === undefined ? undefined : { chars: simple, length: 2 }
}

const ESCAPE_START = /[%&\\]/g

/**
 * Undoes one level of percent-encoding, HTML escaping and JSON/JS string escaping, in one pass (their escapes
 * start with different chars, so they never compete). Undefined when the text has none.
 */
export function unescapeAll(s: string): View | undefined {
  let b: ReturnType<typeof builder> | undefined
  let copied = 0
  ESCAPE_START.lastIndex = 0
  for (let m = ESCAPE_START.exec(s); m; m = ESCAPE_START.exec(s)) {
    const i = m.index
    const c = s.charCodeAt(i)
    const d = c === 37 ? percentAt(s, i) : c === 38 ? entityAt(s, i) : escapeAt(s, i)
    if (!d) continue
    b ??= builder(s)
    b.copy(copied, i)
    b.emit(d.chars, i, i + d.length)
    copied = i + d.length
    ESCAPE_START.lastIndex = copied
  }
  if (!b) return undefined
  b.copy(copied, s.length)
  return b.done()
}

const ESCAPED_BREAK = /\\[rn]/

/** Line breaks (real, or escaped in a JSON/JS string at any depth), several in a row, with the blanks around them. */
const BREAKS = /[ \t]*(?:\r\n|\r|\n|\\+[rn])(?:[ \t]*(?:\r\n|\r|\n|\\+[rn]))*[ \t]*/g

/**
 * Removes line breaks — real (`\n`, `\r\n`), or escaped in a JSON/JS string at any depth (`\n`, `\\r\\n`) —
 * with the spaces and tabs around them, so text wrapped at any width (base64 at 76 columns, PEM at 64,
 * `xxd -p` at 60, an indented YAML block) reads as one run. Undefined when the text has no line break.
 */
export function joinLines(s: string): View | undefined {
  if (s.indexOf('\n') < 0 && s.indexOf('\r') < 0 && !ESCAPED_BREAK.test(s)) return undefined
  let b: ReturnType<typeof builder> | undefined
  let copied = 0
  BREAKS.lastIndex = 0
  for (let m = BREAKS.exec(s); m; m = BREAKS.exec(s)) {
    b ??= builder(s)
    b.copy(copied, m.index)
    copied = m.index + m[0].length
  }
  if (!b) return undefined
  b.copy(copied, s.length)
  return b.done()
}

/** A view of a view, mapped straight back to the original source (the inner view's cuts and open end kept). */
export function compose(outer: View, inner: View): View {
  const v: View = { text: inner.text, start: (k) => outer.start(inner.start(k)), end: (k) => outer.end(inner.end(k) - 1) }
  if (inner.cuts) v.cuts = inner.cuts
  if (inner.openEnd !== undefined) v.openEnd = inner.openEnd
  if (outer.perLine || inner.perLine) v.perLine = true
  return v
}

/** Chars that must occur in a text before an unescaping or joined view can differ from it: the common case costs one test. */
const TRIGGER = /[%&\\\r\n]/

/**
 * The decoded views of `s`: one level of unescaping, two levels (JSON inside JSON, a URL-encoded value in a
 * JSON string, `%2541`), each of those with its line breaks removed, the byte dumps (byte arrays and dump rows)
 * of the text and of its unescaped copy, and the bytes that base64 and hex runs encode, of the text as decoded
 * as it gets and of its byte arrays. Every view that holds decoded bytes is unescaped in turn, once and twice,
 * so that an escaped form inside base64, hex or a dump is found (base64 of a form body, hex of a JSON payload,
 * `od -c` of a query string). Empty for a text nothing decodes.
 */
export function viewsOf(s: string): View[] {
  const bytes = mayHoldBytes(s) ? byteViews(s) : []
  const out: View[] = [...bytes, ...dumpViews(s)]
  let text: View | undefined
  if (TRIGGER.test(s)) {
    const joined = joinLines(s)
    if (joined) out.push(joined)
    const once = unescapeAll(s)
    text = joined
    if (once) {
      out.push(once)
      const twice = unescapeAll(once.text)
      if (twice) out.push(compose(once, twice))
      const onceJoined = joinLines(once.text)
      if (onceJoined) out.push(compose(once, onceJoined))
      // A dump logged inside a JSON string: its line breaks and quotes are escaped.
      const inner = mayHoldBytes(once.text) ? [...byteViews(once.text), ...dumpViews(once.text)] : dumpViews(once.text)
      for (const v of inner) out.push(compose(once, v))
      text = onceJoined ? compose(once, onceJoined) : once
    }
  }
  // Base64 and hex runs, read where they are longest: unescaping (`\/`, `%3D`) and joining lines only lengthen them.
  const src = text ? text.text : s
  const runs = binaryRuns(src)
  for (const v of [runs.base64.length > 0 ? base64View(src, runs.base64) : undefined, runs.hex.length > 0 ? hexView(src, runs.hex) : undefined]) {
    if (v) out.push(text ? { ...compose(text, v), decoded: true } : v)
  }
  for (const b of bytes) {
    const v = hexView(b.text)
    if (v) out.push({ ...compose(b, v), decoded: true })
  }
  const n = out.length
  for (let i = 0; i < n; i++) {
    const v = out[i]!
    if (!v.decoded || !TRIGGER.test(v.text)) continue
    const once = unescapeAll(v.text)
    if (!once) continue
    const inV = compose(v, once)
    out.push(inV)
    const twice = unescapeAll(once.text)
    if (twice) out.push(compose(inV, twice))
  }
  return out
}

/** Chars of a secret's beginning that must show before a truncation mark to be hidden (so 3 may show). */
export const CUT_MIN_CHARS = 4
const MARK = /\.\.\.|…/g

/**
 * Where a printer cut a string short: before any `...` or `…` that does not open the string (`sk_live_4eC…`,
 * `eyJhbGciOi.…`, `correct horse …`), or before the quote of util.inspect's `'…'... 2800 more characters`. What
 * ends there may begin a secret. A mark after a dot or a blank counts too: a secret may hold either (a JWT, a
 * `key.secret` token, a passphrase), and a cut may fall right after one (review 7); a sentence's own `...` is then
 * looked at as well, which costs only a lookup (nothing there begins a secret: nothing is masked).
 */
export function truncationMarks(s: string): number[] {
  if (s.indexOf('...') < 0 && s.indexOf('…') < 0) return []
  const out: number[] = []
  MARK.lastIndex = 0
  for (let m = MARK.exec(s); m; m = MARK.exec(s)) {
    let i = m.index
    const c = s.charCodeAt(i - 1)
    if (i === 0) continue
    if (c === 39 || c === 34) i--
    out.push(i)
    while (s.charCodeAt(MARK.lastIndex) === 46) MARK.lastIndex++ // `....` is one mark
  }
  return out
}
