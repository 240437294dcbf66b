/** Replaces every registered secret (and its encoded forms) by `***` in strings and nested values. */

import { byteViews, CUT_MIN_HEX } from './byte-views.ts'
import { dumpViews, startsLikeRow } from './dump-views.ts'
import { foldableForms, secretForms, wrappableForms } from './encodings.ts'
import { maskByteArray } from './mask-bytes.ts'
import { beginningBefore, begunAt, buildIndex, isWrappableChar, MAX_Q, merge, scan, type Index } from './pattern-index.ts'
import { pushPerLine } from './view-builder.ts'
import { CUT_MIN_CHARS, joinLines, truncationMarks, viewsOf, type View } from './views.ts'

/** What a masked secret is replaced with. */
export const MASK = '***'

/** Where a wrapped (base64 or hex) occurrence may have begun at the end of a text, for the line masker. */
export interface PendingMatch {
  /** Index in the text of its first char. */
  start: number
  /** How many chars of the form are already there (line breaks not counted). */
  length: number
  /**
   * Whether the text (from `from`) is nothing but that run of base64/hex chars (leading blanks aside), as a
   * wrapped block's line is. Only then is a beginning shorter than 4 chars reported.
   */
  whole: boolean
  /** The form it begins (the longest one, when several begin there). */
  pattern: string
}

/**
 * A set of secret values to hide. Overlapping or adjacent occurrences (of one or several secrets) merge
 * into a single `***`, so no part of any secret survives. Values shorter than 3 chars are ignored.
 */
export class Masker {
  private readonly patterns = new Set<string>()
  /** Forms looked for across line breaks (base64, hex, a base64-like value, and each without its first 1–3 chars). */
  private readonly wrapped = new Set<string>()
  /** The base64 and hex forms: a block's line of nothing else is held even when it ends 1–3 chars into one. */
  private readonly blocks = new Set<string>()
  private readonly values = new Set<string>()
  private index: Index | undefined
  private wrapIndex: (Index & { short: Map<string, string> }) | undefined

  /** Registers a value and its base64, URL-encoded, JSON-escaped and per-line forms; false if too short to mask. */
  add(value: string): boolean {
    if (typeof value !== 'string') return false
    if (this.values.has(value)) return true
    const forms = secretForms(value)
    if (forms.length === 0) return false
    this.values.add(value)
    for (const f of forms) this.patterns.add(f)
    for (const f of foldableForms(value)) this.wrapped.add(f)
    for (const f of wrappableForms(value)) this.blocks.add(f)
    this.index = undefined
    this.wrapIndex = undefined
    return true
  }

  /** Registers several values. */
  addAll(values: Iterable<string>): void {
    for (const v of values) this.add(v)
  }

  /** Number of registered secret values. */
  get size(): number {
    return this.values.size
  }

  /** Number of distinct forms searched for (values plus their encodings and lines). */
  get patternCount(): number {
    return this.patterns.size
  }

  /** Length of the longest pattern: a stream must hold back this many chars minus one before cutting. */
  get longestPattern(): number {
    return this.getIndex()?.longest ?? 0
  }

  /** `text` with every occurrence of every registered form replaced by `***`. */
  mask(text: string): string {
    const ranges = this.findRanges(text)
    if (ranges.length === 0) return text
    let out = ''
    let last = 0
    for (let i = 0; i < ranges.length; i += 2) {
      out += text.slice(last, ranges[i]) + MASK
      last = ranges[i + 1] as number
    }
    return out + text.slice(last)
  }

  /** Whether `text` contains any registered form. */
  contains(text: string): boolean {
    return this.findRanges(text).length > 0
  }

  /**
   * Merged occurrence ranges as a flat list `[start0, end0, start1, end1, …]` (end exclusive), sorted;
   * overlapping and touching occurrences are merged. Occurrences are looked for in the text as it is and
   * in its decoded views (percent, HTML, JSON/JS escapes, line breaks removed, pairs of those, byte arrays and
   * hexdumps), each mapped back to the source chars it was decoded from. Where a printer cut data short (a
   * truncation mark, the end of a byte array or dump), a secret's beginning of 4 chars (4 bytes) or more counts.
   */
  findRanges(text: string): number[] {
    const idx = this.getIndex()
    if (!idx || text.length < idx.q) return []
    const found = scan(idx, text)
    const views = viewsOf(text)
    const marks = truncationMarks(text)
    if (views.length === 0 && marks.length === 0) return found
    const all: number[] = found
    for (const v of views) {
      const r = scan(idx, v.text)
      for (let i = 0; i < r.length; i += 2) {
        if (v.perLine) pushPerLine(all, v, text, r[i]!, r[i + 1]!)
        else all.push(v.start(r[i]!), v.end(r[i + 1]! - 1))
      }
      for (const c of v.cuts ?? []) {
        const j = c > 0 ? beginningBefore(idx, v.text, c, v.cutMin ?? CUT_MIN_CHARS) : -1
        if (j >= 0 && v.perLine) pushPerLine(all, v, text, j, c)
        else if (j >= 0) all.push(v.start(j), v.end(c - 1))
      }
    }
    for (const c of marks) {
      const j = beginningBefore(idx, text, c, CUT_MIN_CHARS)
      if (j >= 0) all.push(j, c)
    }
    return merge(all)
  }

  /**
   * The earliest start, at or after `from`, of a base64 or hex form that the end of `text` has begun but not
   * finished (line breaks between its chars allowed): the line masker holds such lines back until the rest
   * arrives. A start that fails stays failed however the text goes on, so a caller that appends to `text`
   * may pass the previous answer's start as `from`.
   */
  pendingWrapped(text: string, from = 0): PendingMatch | undefined {
    const w = this.getWrapIndex()
    if (!w) return undefined
    const inText = this.pendingInText(w, text, from)
    const inBytes = this.pendingInBytes(w, text, from)
    return inBytes && (!inText || inBytes.start < inText.start) ? inBytes : inText
  }

  /** A wrapped form begun at the end of the text itself (line breaks between its chars allowed). */
  private pendingInText(w: Index & { short: Map<string, string> }, text: string, from: number): PendingMatch | undefined {
    const part = from > 0 ? text.slice(from) : text
    const v = joinLines(part)
    const t = v ? v.text : part
    let run = t.length
    while (run > 0 && isWrappableChar(t.charCodeAt(run - 1))) run--
    // A beginning shorter than q chars only matters on a line of a block (see the line masker): skip it elsewhere.
    const whole = /^[ \t]*$/.test(t.slice(0, run))
    const end = whole ? t.length : t.length - w.q + 1
    for (let j = Math.max(run, t.length - w.longest + 1); j < end; j++) {
      const rem = t.length - j
      const hit = rem >= w.q ? begunAt(w, t, j, t.length) : w.short.get(t.slice(j))
      if (hit !== undefined) return { start: from + (v ? v.start(j) : j), length: rem, whole, pattern: hit }
    }
    return undefined
  }

  /**
   * A hex form begun by a byte array or hexdump that the end of the text leaves open (`115, 107,` at the end of
   * a line of an array printed over several, a dump's row): the next lines may carry it on. Only looked at when
   * the last word could be such a byte, so an ordinary line costs one backwards scan of its last word.
   */
  private pendingInBytes(w: Index & { short: Map<string, string> }, text: string, from: number): PendingMatch | undefined {
    if (!endsInByte(text) && !startsLikeRow(text, text.lastIndexOf('\n') + 1)) return undefined
    // Views are taken from the start of the line holding `from`: a hexdump row must be read whole.
    const lineStart = from > 0 ? text.lastIndexOf('\n', from - 1) + 1 : 0
    const part = lineStart > 0 ? text.slice(lineStart) : text
    let best: PendingMatch | undefined
    for (const v of [...byteViews(part), ...dumpViews(part)]) {
      if (v.openEnd === undefined) continue
      // Nothing but the open data since the line began (a line of an array, one byte per line): like a block's line.
      const whole = /^[ \t[{]*$/.test(part.slice(0, v.openFrom ?? 0))
      const hit = openBeginning(w, v, v.openEnd, from - lineStart, whole)
      if (hit && (!best || lineStart + hit.start < best.start)) best = { ...hit, start: lineStart + hit.start }
    }
    return best
  }

  /**
   * A copy of `value` with every string masked — values and keys of plain objects, arrays, Error messages
   * and stacks. A number or bigint whose digits contain a secret becomes the string `***`. Other objects
   * (Date, Map, typed arrays, class instances) are returned as they are. With no secret registered,
   * `value` itself is returned.
   */
  maskDeep<T>(value: T): T {
    if (this.patterns.size === 0) return value
    return this.walk(value, new WeakMap()) as T
  }

  private walk(v: unknown, seen: WeakMap<object, unknown>): unknown {
    if (typeof v === 'string') return this.mask(v)
    if (typeof v === 'number' || typeof v === 'bigint') return this.contains(String(v)) ? MASK : v
    if (typeof v !== 'object' || v === null) return v
    const done = seen.get(v)
    if (done !== undefined) return done
    // A byte array (Array.from(buffer), a Buffer's toJSON, a typed array through JSON: `{"0":115,"1":107}`).
    const bytes = maskByteArray(v, (hex) => this.byteRanges(hex), MASK)
    if (bytes !== undefined) {
      seen.set(v, bytes)
      return bytes
    }
    if (Array.isArray(v)) {
      const out: unknown[] = []
      seen.set(v, out)
      for (const item of v) out.push(this.walk(item, seen))
      return out
    }
    if (v instanceof Error) return this.maskError(v, seen)
    const proto = Object.getPrototypeOf(v)
    if (proto !== Object.prototype && proto !== null) return v
    const out: Record<string, unknown> = proto === null ? Object.create(null) : {}
    seen.set(v, out)
    for (const [k, item] of Object.entries(v)) out[this.mask(k)] = this.walk(item, seen)
    return out
  }

  /** Ranges of secrets in a byte array's hex, and of a beginning of one (4 bytes or more) at its end. */
  private byteRanges(hex: string): number[] {
    const idx = this.getIndex()
    if (!idx) return []
    const found = this.findRanges(hex)
    const j = beginningBefore(idx, hex, hex.length, CUT_MIN_HEX)
    return j < 0 ? found : merge([...found, j, hex.length])
  }

  private maskError(e: Error, seen: WeakMap<object, unknown>): Error {
    const copy = Object.create(Object.getPrototypeOf(e)) as Error
    seen.set(e, copy)
    for (const key of new Set([...Object.getOwnPropertyNames(e), 'name', 'message', 'stack'])) {
      const item = (e as unknown as Record<string, unknown>)[key]
      if (item === undefined) continue
      Object.defineProperty(copy, key, {
        value: this.walk(item, seen), writable: true, configurable: true, enumerable: key !== 'stack' && key !== 'message',
      })
    }
    return copy
  }

  private getIndex(): Index | undefined {
    if (this.patterns.size === 0) return undefined
    return (this.index ??= buildIndex(this.patterns))
  }

  private getWrapIndex(): (Index & { short: Map<string, string> }) | undefined {
    if (this.wrapped.size === 0) return undefined
    if (this.wrapIndex) return this.wrapIndex
    const short = new Map<string, string>() // beginning → the longest form it begins
    for (const p of this.blocks) {
      for (let n = 1; n < MAX_Q && n < p.length; n++) {
        const k = p.slice(0, n)
        if ((short.get(k)?.length ?? 0) < p.length) short.set(k, p)
      }
    }
    return (this.wrapIndex = { ...buildIndex(this.wrapped), short })
  }
}

/**
 * Whether the text ends with two words that could be bytes (hex or decimal digits, `0x…`), separated by blanks,
 * commas, colons or quotes only (trailing ones aside), or with one alone on its line: only then can a byte array
 * be open at its end.
 */
function endsInByte(text: string): boolean {
  let i = text.length
  for (let words = 0; words < 2; words++) {
    let gap = i
    while (i > 0 && isSeparator(text.charCodeAt(i - 1))) i--
    if (words === 1 && gap === i) return false
    // One word alone on its line: a line of an array printed one byte per line.
    if (words === 1 && /(?:^|\n)[ \t[{]*$/.test(text.slice(Math.max(0, i - 64), i))) return true
    gap = i
    while (i > 0 && isHexDigit(text.charCodeAt(i - 1))) i--
    if (i === gap) return false
    if (i >= 2 && (text.charCodeAt(i - 1) | 32) === 120 && text.charCodeAt(i - 2) === 48) i -= 2 // 0x
    if (i > 0 && isWordChar(text.charCodeAt(i - 1))) return false
  }
  return true
}

const isHexDigit = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)
const isWordChar = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95
const isSeparator = (c: number): boolean => c === 32 || c === 9 || c === 44 || c === 58 || c === 39 || c === 34 || c === 45 || c === 10 || c === 13

/**
 * The earliest beginning of a wrapped form in `v.text` before `end`, within its trailing run of hex digits,
 * whose source start is at or after `from`.
 */
function openBeginning(w: Index & { short: Map<string, string> }, v: View, end: number, from: number, whole: boolean): PendingMatch | undefined {
  let run = end
  while (run > 0 && isWrappableChar(v.text.charCodeAt(run - 1))) run--
  for (let j = Math.max(run, end - w.longest + 1); j < (whole ? end : end - w.q + 1); j++) {
    if (v.start(j) < from) continue
    const p = end - j >= w.q ? begunAt(w, v.text, j, end) : w.short.get(v.text.slice(j, end))
    if (p !== undefined) return { start: v.start(j), length: end - j, whole, pattern: p }
  }
  return undefined
}
