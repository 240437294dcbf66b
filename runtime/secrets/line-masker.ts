/**
 * Streaming masking of a plugin's output: splits into lines first, so a secret split across chunks is still
 * hidden, and holds back the lines of a base64 or hex block until it ends, so a secret wrapped over several
 * lines (at any width) is hidden too.
 */

import { MASK, type Masker } from './masker.ts'

/** Default longest line held back; a longer line is emitted in pieces, never cut inside a secret. */
export const DEFAULT_MAX_LINE_LENGTH = 256 * 1024

/**
 * A line whose end has begun a wrapped form by at least this many chars is held until the next line shows
 * whether the form goes on. Shorter beginnings are emitted at once: at most 3 base64 chars (18 bits) of a
 * wrapped secret can then show. When the line is all base64/hex (a line of a block), its beginning is kept
 * as context, so the remainder on the next lines is still masked.
 */
const HOLD_MIN = 4
/** At the end of the stream, a held beginning at least this long is masked even though it never finished. */
const MASK_UNFINISHED = 8

export interface LineMasker {
  /** Feeds a chunk; returns the complete lines it finished, masked, without their line terminator. */
  push(chunk: string): string[]
  /** Returns every line still held or unterminated (masked) and resets. Call at end of stream. */
  flush(): string[]
}

export interface LineMaskerOptions {
  /** Hold at most this many chars of an unterminated line before emitting part of it. */
  maxLineLength?: number
}

/**
 * Wraps a Masker for a text stream. Lines end at `\n` (a trailing `\r` is dropped). Secrets added to the
 * masker later apply to lines not yet returned. A line is returned late only while the lines after it may
 * still complete a wrapped secret that it begins.
 */
export function createLineMasker(masker: Masker, options: LineMaskerOptions = {}): LineMasker {
  const maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH
  let pending = ''
  /** Complete lines not returned yet. */
  let held: string[] = []
  /** The end of the text already returned, when it began a wrapped form: matched again, never returned again. */
  let context = ''
  /** Where in `context + held` the open wrapped form begins (nothing before it can begin one any more). */
  let openFrom = 0
  /** While lines are held: the form they continue and how many of its chars are already there. */
  let follow: { pattern: string; matched: number } | undefined
  /**
   * Ranges already found in the held lines, relative to their start, when they were kept back after the lines
   * before them were returned: a match that ran from those lines into the kept ones (a dump whose next row
   * begins another secret) is hidden in the kept ones too, though the text they are masked with then lacks its beginning.
   */
  let carried: number[] = []

  /** Masks the held lines against each other (and the context) and returns those nothing after them can change. */
  const release = (final: boolean): string[] => {
    if (held.length === 0) return []
    const prefix = context === '' ? '' : `${context}\n`
    const text = prefix + held.join('\n')
    const open = masker.pendingWrapped(text, openFrom)
    let keep = 0
    let next = ''
    if (open && !final && open.length >= HOLD_MIN) {
      // Hold from the line the form begins on; when it began in the context, hold everything and keep the context.
      if (open.start < prefix.length) [keep, next] = [held.length, context]
      else keep = held.length - lineAt(held, open.start - prefix.length)
    } else if (open && !final && (open.whole || openFrom > 0)) {
      next = text.slice(open.start) // only a line of a block: keeps ordinary lines on the fast path
    }
    if (keep === held.length) {
      openFrom = open!.start // nothing to return yet
      follow = { pattern: open!.pattern, matched: open!.length }
      return []
    }
    follow = keep > 0 ? { pattern: open!.pattern, matched: open!.length } : undefined
    let ranges = masker.findRanges(text)
    for (let i = 0; i < carried.length; i += 2) ranges = withRange(ranges, carried[i]! + prefix.length, carried[i + 1]! + prefix.length)
    if (open && final && open.length >= MASK_UNFINISHED) ranges = withRange(ranges, Math.max(open.start, prefix.length), text.length)
    const out: string[] = []
    let at = prefix.length
    for (let i = 0; i < held.length - keep; i++) {
      const line = held[i]!
      out.push(maskSpan(text, at, at + line.length, ranges))
      at += line.length + 1
    }
    held = held.slice(held.length - keep)
    context = next
    carried = []
    for (let i = 0; keep > 0 && i < ranges.length; i += 2) if (ranges[i + 1]! > at) carried.push(Math.max(ranges[i]!, at) - at, ranges[i + 1]! - at)
    // Positions are now relative to the new context + held: the kept lines start right after the context.
    openFrom = keep > 0 ? open!.start - at : 0
    return out
  }

  const complete = (line: string): string[] => {
    // A block's next line that only carries the form on, not to its end: held at the cost of one comparison.
    if (follow && held.length > 0) {
      const t = line.replace(/^[ \t]+|[ \t]+$/g, '')
      const f = follow
      if (t.length > 0 && f.matched + t.length < f.pattern.length && f.pattern.startsWith(t, f.matched)) {
        held.push(line)
        f.matched += t.length
        return []
      }
    }
    // The common case: nothing held, nothing begun (or too little, on a line that is not a block's): masked alone.
    if (held.length === 0 && context === '') {
      const open = masker.pendingWrapped(line)
      if (!open || (open.length < HOLD_MIN && !open.whole)) return [masker.mask(line)]
    }
    held.push(line)
    return release(false)
  }

  return {
    push(chunk: string): string[] {
      pending += chunk
      const out: string[] = []
      let start = 0
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n', start)) {
        const line = pending.slice(start, nl)
        out.push(...complete(line.endsWith('\r') ? line.slice(0, -1) : line))
        start = nl + 1
      }
      if (start > 0) pending = pending.slice(start)
      if (pending.length > maxLineLength) {
        const cut = safeCut(masker, pending)
        if (cut > 0) {
          out.push(...complete(pending.slice(0, cut)))
          pending = pending.slice(cut)
        }
      }
      return out
    },
    flush(): string[] {
      if (pending !== '') held.push(pending.endsWith('\r') ? pending.slice(0, -1) : pending)
      pending = ''
      const out = release(true)
      held = []
      context = ''
      openFrom = 0
      follow = undefined
      carried = []
      return out
    },
  }
}

/** Index of the held line that holds char `offset` of `lines.join('\n')` (a negative offset: the first). */
function lineAt(lines: readonly string[], offset: number): number {
  let at = 0
  for (let i = 0; i < lines.length; i++) {
    at += lines[i]!.length + 1
    if (offset < at) return i
  }
  return lines.length - 1
}

/** Adds `[from, to)` to flat, sorted, merged ranges, merging what it overlaps. */
function withRange(ranges: readonly number[], from: number, to: number): number[] {
  const out: number[] = []
  let a = from
  let b = to
  for (let i = 0; i < ranges.length; i += 2) {
    const s = ranges[i]!
    const e = ranges[i + 1]!
    if (e < a || s > b) out.push(s, e)
    else { a = Math.min(a, s); b = Math.max(b, e) }
  }
  out.push(a, b)
  const pairs: [number, number][] = []
  for (let i = 0; i < out.length; i += 2) pairs.push([out[i]!, out[i + 1]!])
  return pairs.sort((x, y) => x[0] - y[0]).flat()
}

/** `text[from, to)` with the parts inside `ranges` (flat, sorted, merged) replaced by one `***` each. */
function maskSpan(text: string, from: number, to: number, ranges: readonly number[]): string {
  let out = ''
  let last = from
  for (let i = 0; i < ranges.length; i += 2) {
    const a = Math.max(ranges[i]!, from)
    const b = Math.min(ranges[i + 1]!, to)
    if (a >= b) continue
    out += text.slice(last, a) + MASK
    last = b
  }
  return out + text.slice(last, to)
}

/**
 * A cut point in `text` such that every occurrence starting before it ends inside `text` (so it was seen
 * whole) and no occurrence spans it. 0 when the text is too short to cut safely yet.
 */
function safeCut(masker: Masker, text: string): number {
  let cut = text.length - Math.max(masker.longestPattern - 1, 0)
  if (cut <= 0) return 0
  const ranges = masker.findRanges(text)
  for (let i = 0; i < ranges.length; i += 2) {
    const start = ranges[i] as number
    const end = ranges[i + 1] as number
    if (start < cut && cut < end) {
      cut = start
      break
    }
  }
  return cut
}
