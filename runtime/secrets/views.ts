/**
 * Decoded views of a text, for the masker: percent-, HTML-, JSON/JS-unescaped and line-break-free copies,
 * each with a map from its chars back to the source range they came from.
 */

/** A decoded copy of a source text; char k of `text` came from source chars `[start(k), end(k))`. */
export interface View {
  text: string
  start(k: number): number
  end(k: number): number
}

/** One way of undoing an encoding; returns undefined when it changes nothing (no view needed). */
type Decoder = (s: string) => View | undefined

/**
 * Builds a view from segments: `copy(from, to)` appends source chars unchanged, `emit(chars, from, to)`
 * appends decoded chars that stand for source `[from, to)`. The map back is kept per segment, not per char,
 * so a long text with few escapes or line breaks costs a few slices.
 */
function builder(src: string) {
  const parts: string[] = []
  /** Per segment: where it starts in the view, its source range, and whether it is a verbatim copy. */
  const at: number[] = []
  const from: number[] = []
  const to: number[] = []
  const verbatim: boolean[] = []
  let k = 0
  const segment = (k0: number, f: number, t: number, copy: boolean) => { at.push(k0); from.push(f); to.push(t); verbatim.push(copy) }
  /** The segment holding view char `k` (binary search). */
  const find = (q: number): number => {
    let lo = 0
    let hi = at.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (at[mid]! <= q) lo = mid
      else hi = mid - 1
    }
    return lo
  }
  return {
    copy(f: number, t: number) {
      if (t <= f) return
      parts.push(src.slice(f, t))
      segment(k, f, t, true)
      k += t - f
    },
    emit(chars: string, f: number, t: number) {
      parts.push(chars)
      segment(k, f, t, false)
      k += chars.length
    },
    done: (): View => ({
      text: parts.join(''),
      start: (q) => { const i = find(q); return verbatim[i] ? from[i]! + (q - at[i]!) : from[i]! },
      end: (q) => { const i = find(q); return verbatim[i] ? from[i]! + (q - at[i]!) + 1 : to[i]! },
    }),
  }
}

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

/** A view of a view, mapped straight back to the original source. */
function compose(outer: View, inner: View): View {
  return { text: inner.text, start: (k) => outer.start(inner.start(k)), end: (k) => outer.end(inner.end(k) - 1) }
}

/** Chars that must occur in a text before any view can differ from it: the common case costs one test. */
const TRIGGER = /[%&\\\r\n]/

/**
 * The decoded views of `s`: one level of unescaping, two levels (JSON inside JSON, a URL-encoded value in a
 * JSON string, `%2541`), and each of those with its line breaks removed. Empty for a text nothing decodes.
 */
export function viewsOf(s: string): View[] {
  if (!TRIGGER.test(s)) return []
  const out: View[] = []
  const joined = joinLines(s)
  if (joined) out.push(joined)
  const once = unescapeAll(s)
  if (!once) return out
  out.push(once)
  const twice = unescapeAll(once.text)
  if (twice) out.push(compose(once, twice))
  const onceJoined = joinLines(once.text)
  if (onceJoined) out.push(compose(once, onceJoined))
  return out
}
