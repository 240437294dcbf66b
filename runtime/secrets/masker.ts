/** Replaces every registered secret (and its encoded forms) by `***` in strings and nested values. */

import { secretForms } from './encodings.ts'

/** What a masked secret is replaced with. */
export const MASK = '***'

// Patterns are found by hashing the first Q chars at every position and probing a 64 Ki-entry
// filter: a line with no secret costs one hash and one byte read per char, whatever the count of secrets.
const MAX_Q = 4
const FILTER_BITS = 16

interface Index {
  q: number
  filter: Uint8Array
  /** Patterns by the hash of their first q chars, longest first. */
  buckets: Map<number, string[]>
  longest: number
}

/**
 * A set of secret values to hide. Overlapping or adjacent occurrences (of one or several secrets) merge
 * into a single `***`, so no part of any secret survives. Values shorter than 3 chars are ignored.
 */
export class Masker {
  private readonly patterns = new Set<string>()
  private readonly values = new Set<string>()
  private index: Index | undefined

  /** Registers a value and its base64, URL-encoded, JSON-escaped and per-line forms; false if too short to mask. */
  add(value: string): boolean {
    if (typeof value !== 'string') return false
    if (this.values.has(value)) return true
    const forms = secretForms(value)
    if (forms.length === 0) return false
    this.values.add(value)
    for (const f of forms) this.patterns.add(f)
    this.index = undefined
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
   * overlapping and touching occurrences are merged.
   */
  findRanges(text: string): number[] {
    const idx = this.getIndex()
    if (!idx || text.length < idx.q) return []
    const { q, filter, buckets } = idx
    const mask = (1 << FILTER_BITS) - 1
    const out: number[] = []
    let curStart = -1
    let curEnd = -1
    const last = text.length - q
    for (let i = 0; i <= last; i++) {
      const h = hashAt(text, i, q)
      if (filter[h & mask] === 0) continue
      const candidates = buckets.get(h)
      if (!candidates) continue
      for (const p of candidates) {
        if (!text.startsWith(p, i)) continue
        const end = i + p.length
        if (curStart >= 0 && i <= curEnd) {
          if (end > curEnd) curEnd = end
        } else {
          if (curStart >= 0) out.push(curStart, curEnd)
          curStart = i
          curEnd = end
        }
        break // longest first: shorter patterns at this position are inside this one
      }
    }
    if (curStart >= 0) out.push(curStart, curEnd)
    return out
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
    if (this.index) return this.index
    let q = MAX_Q
    let longest = 0
    for (const p of this.patterns) {
      q = Math.min(q, p.length)
      longest = Math.max(longest, p.length)
    }
    const filter = new Uint8Array(1 << FILTER_BITS)
    const buckets = new Map<number, string[]>()
    for (const p of this.patterns) {
      const h = hashAt(p, 0, q)
      filter[h & ((1 << FILTER_BITS) - 1)] = 1
      const list = buckets.get(h)
      if (list) list.push(p)
      else buckets.set(h, [p])
    }
    for (const list of buckets.values()) list.sort((a, b) => b.length - a.length)
    this.index = { q, filter, buckets, longest }
    return this.index
  }
}

function hashAt(s: string, i: number, q: number): number {
  let h = 0x811c9dc5
  for (let j = 0; j < q; j++) h = Math.imul(h ^ s.charCodeAt(i + j), 0x01000193)
  return h >>> 0
}
