/** Replaces every registered secret (and its encoded forms) by `***` in strings and nested values. */

import { secretForms, wrappableForms } from './encodings.ts'
import { buildIndex, FILTER_BITS, hashAt, isPrefixAt, isWrappableChar, MAX_Q, merge, scan, type Index } from './pattern-index.ts'
import { joinLines, viewsOf } from './views.ts'

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
  private readonly wrapped = new Set<string>()
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
    for (const f of wrappableForms(value)) this.wrapped.add(f)
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
   * in its decoded views (percent, HTML, JSON/JS escapes, line breaks removed, and pairs of those), each
   * mapped back to the source chars it was decoded from.
   */
  findRanges(text: string): number[] {
    const idx = this.getIndex()
    if (!idx || text.length < idx.q) return []
    const found = scan(idx, text)
    const views = viewsOf(text)
    if (views.length === 0) return found
    const all: number[] = found
    for (const v of views) {
      const r = scan(idx, v.text)
      for (let i = 0; i < r.length; i += 2) all.push(v.start(r[i]!), v.end(r[i + 1]! - 1))
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
    const part = from > 0 ? text.slice(from) : text
    const v = joinLines(part)
    const t = v ? v.text : part
    let run = t.length
    while (run > 0 && isWrappableChar(t.charCodeAt(run - 1))) run--
    // A beginning shorter than q chars only matters on a line of a block (see the line masker): skip it elsewhere.
    const whole = /^[ \t]*$/.test(t.slice(0, run))
    const end = whole ? t.length : t.length - w.q + 1
    const mask = (1 << FILTER_BITS) - 1
    for (let j = Math.max(run, t.length - w.longest + 1); j < end; j++) {
      const rem = t.length - j
      let hit: string | undefined
      if (rem >= w.q) {
        const h = hashAt(t, j, w.q)
        hit = w.filter[h & mask] !== 0 ? w.buckets.get(h)?.find((p) => p.length > rem && isPrefixAt(p, t, j)) : undefined
      } else hit = w.short.get(t.slice(j))
      if (hit !== undefined) return { start: from + (v ? v.start(j) : j), length: rem, whole, pattern: hit }
    }
    return undefined
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
    for (const p of this.wrapped) {
      for (let n = 1; n < MAX_Q && n < p.length; n++) {
        const k = p.slice(0, n)
        if ((short.get(k)?.length ?? 0) < p.length) short.set(k, p)
      }
    }
    return (this.wrapIndex = { ...buildIndex(this.wrapped), short })
  }
}
