/** The masker's pattern index: a hash filter over the first chars of every pattern, and a scan with it. */

// Patterns are found by hashing the first Q chars at every position and probing a 64 Ki-entry
// filter: a line with no secret costs one hash and one byte read per char, whatever the count of secrets.
// The hash is polynomial, so the scan rolls it on by one char instead of hashing Q chars at every position.
export const MAX_Q = 4
const FILTER_BITS = 16
const FILTER_MASK = (1 << FILTER_BITS) - 1
const BASE = 0x01000193

/** Patterns grouped by the hash of their first `q` chars, behind a byte filter. */
export interface Index {
  q: number
  /** BASE^(q-1), to roll the hash. */
  pow: number
  filter: Uint8Array
  /** Patterns by the hash of their first q chars, longest first. */
  buckets: Map<number, string[]>
  longest: number
}

/** Indexes a set of patterns. */
export function buildIndex(patterns: Set<string>): Index {
  let q = MAX_Q
  let longest = 0
  for (const p of patterns) {
    q = Math.min(q, p.length)
    longest = Math.max(longest, p.length)
  }
  const filter = new Uint8Array(1 << FILTER_BITS)
  const buckets = new Map<number, string[]>()
  for (const p of patterns) {
    const h = hashAt(p, 0, q)
    filter[slot(h)] = 1
    const list = buckets.get(h)
    if (list) list.push(p)
    else buckets.set(h, [p])
  }
  for (const list of buckets.values()) list.sort((a, b) => b.length - a.length)
  let pow = 1
  for (let j = 1; j < q; j++) pow = Math.imul(pow, BASE)
  return { q, pow, filter, buckets, longest }
}

/** Occurrences of the indexed patterns in `text`, merged, as flat `[start, end, …]`. */
export function scan(idx: Index, text: string): number[] {
  const { q, pow, filter, buckets } = idx
  const out: number[] = []
  let curStart = -1
  let curEnd = -1
  const last = text.length - q
  let h = last >= 0 ? hashAt(text, 0, q) : 0
  for (let i = 0; i <= last; i++) {
    if (i > 0) h = (Math.imul(h - Math.imul(text.charCodeAt(i - 1), pow), BASE) + text.charCodeAt(i + q - 1)) | 0
    if (filter[slot(h)] === 0) continue
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

/** Sorts flat `[start, end, …]` ranges and merges the overlapping and touching ones. */
export function merge(flat: number[]): number[] {
  const pairs: [number, number][] = []
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!])
  pairs.sort((a, b) => a[0] - b[0] || b[1] - a[1])
  const out: number[] = []
  for (const [a, b] of pairs) {
    const n = out.length
    if (n > 0 && a <= out[n - 1]!) out[n - 1] = Math.max(out[n - 1]!, b)
    else out.push(a, b)
  }
  return out
}

/** Whether `t` from `j` to `end` (its end by default) is the beginning of `p`. */
export function isPrefixAt(p: string, t: string, j: number, end = t.length): boolean {
  for (let k = 0; j + k < end; k++) if (p.charCodeAt(k) !== t.charCodeAt(j + k)) return false
  return true
}

/** The longest pattern that `t[j, end)` begins without finishing (at least q chars of it), or undefined. */
export function begunAt(idx: Index, t: string, j: number, end: number): string | undefined {
  const rem = end - j
  if (rem < idx.q) return undefined
  const h = hashAt(t, j, idx.q)
  if (idx.filter[slot(h)] === 0) return undefined
  return idx.buckets.get(h)?.find((p) => p.length > rem && isPrefixAt(p, t, j, end))
}

/**
 * Where the longest beginning of a pattern of at least `min` chars that ends at `end` starts (-1: none). For data
 * printed only in part (`... 72 more items`, a cut marked `…`): what shows may begin a secret. The beginning may
 * hold blanks (a passphrase cut right after a space, review 7): at most `longest` starts are looked up, each a
 * filter probe, and only at a mark or a cut.
 */
export function beginningBefore(idx: Index, t: string, end: number, min: number): number {
  for (let j = Math.max(0, end - idx.longest + 1); j <= end - Math.max(min, idx.q); j++) {
    if (begunAt(idx, t, j, end) !== undefined) return j
  }
  return -1
}

/** The base64 (standard and url-safe) alphabet, padding included (hex digits are a subset), and `.` (a JWT's). */
export const isWrappableChar = (c: number): boolean =>
  (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47 || c === 61 || c === 95 || c === 45 || c === 46

/** The polynomial hash (base BASE, mod 2^32) of `q` chars of `s` from `i`, as a signed 32-bit integer. */
export function hashAt(s: string, i: number, q: number): number {
  let h = 0
  for (let j = 0; j < q; j++) h = (Math.imul(h, BASE) + s.charCodeAt(i + j)) | 0
  return h
}

/** The filter entry of a hash: its high half folded into the low one (the low bits alone depend on the last chars most). */
const slot = (h: number): number => (h ^ (h >>> 16)) & FILTER_MASK
