/** Streaming masking of a plugin's output: splits into lines first, so a secret split across chunks is still hidden. */

import type { Masker } from './masker.ts'

/** Default longest line held back; a longer line is emitted in pieces, never cut inside a secret. */
export const DEFAULT_MAX_LINE_LENGTH = 256 * 1024

export interface LineMasker {
  /** Feeds a chunk; returns the complete lines it finished, masked, without their line terminator. */
  push(chunk: string): string[]
  /** Returns the last unterminated line (masked), if any, and resets. Call at end of stream. */
  flush(): string[]
}

export interface LineMaskerOptions {
  /** Hold at most this many chars of an unterminated line before emitting part of it. */
  maxLineLength?: number
}

/**
 * Wraps a Masker for a text stream. Lines end at `\n` (a trailing `\r` is dropped). Secrets added to the
 * masker later apply to lines not yet returned.
 */
export function createLineMasker(masker: Masker, options: LineMaskerOptions = {}): LineMasker {
  const maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH
  let pending = ''

  const finish = (line: string): string => masker.mask(line.endsWith('\r') ? line.slice(0, -1) : line)

  return {
    push(chunk: string): string[] {
      pending += chunk
      const out: string[] = []
      let start = 0
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n', start)) {
        out.push(finish(pending.slice(start, nl)))
        start = nl + 1
      }
      if (start > 0) pending = pending.slice(start)
      if (pending.length > maxLineLength) {
        const cut = safeCut(masker, pending)
        if (cut > 0) {
          out.push(masker.mask(pending.slice(0, cut)))
          pending = pending.slice(cut)
        }
      }
      return out
    },
    flush(): string[] {
      if (pending === '') return []
      const last = finish(pending)
      pending = ''
      return [last]
    },
  }
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
