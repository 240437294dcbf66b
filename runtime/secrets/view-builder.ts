/** A decoded view of a text, for the masker: the builder that makes one with its map back to the source, and that map for a match. */

/** A decoded copy of a source text; char k of `text` came from source chars `[start(k), end(k))`. */
export interface View {
  text: string
  start(k: number): number
  end(k: number): number
  /**
   * View offsets where the printer left the rest of the data out (`... 122 more bytes`, `... 72 more items`): what
   * ends there may be the beginning of a secret, which the masker then hides from a minimum length on.
   */
  cuts?: number[]
  /** How many chars of a secret's beginning must show before a cut for them to be hidden (8 hex digits: 4 bytes). */
  cutMin?: number
  /**
   * When the source ends inside data this view decoded that may go on in the next line (an array printed over
   * several lines, a hexdump's rows): the view offset where it ends, for the line masker's holding back.
   */
  openEnd?: number
  /** Where in the source the data left open at its end begins. */
  openFrom?: number
  /**
   * Whether the text is bytes decoded from base64, hex or a dump (one char a byte): the masker then also unescapes
   * it, since what was encoded may itself be an escaped form (a percent-encoded form body, a JSON payload).
   */
  decoded?: boolean
  /**
   * Whether a match is mapped back char by char, joined only within a source line: a dump's rows interleave the
   * data with offsets and printable columns, which a match over several rows must leave as they are.
   */
  perLine?: boolean
}

/**
 * Builds a view from segments: `copy(from, to)` appends source chars unchanged, `emit(chars, from, to)`
 * appends decoded chars that stand for source `[from, to)`. The map back is kept per segment, not per char,
 * so a long text with few escapes or line breaks costs a few slices.
 */
export function builder(src: string) {
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
    /** Length of the view so far. */
    get length() { return k },
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

/**
 * Pushes the source ranges of view chars `[a, b)` one by one, each joined to the one before when only chars of the
 * same source line lie between them: the offsets of a dump's rows, and the line breaks, stay.
 */
export function pushPerLine(out: number[], v: View, text: string, a: number, b: number): void {
  let from = v.start(a)
  let to = v.end(a)
  for (let k = a + 1; k < b; k++) {
    const s = v.start(k)
    const e = v.end(k)
    if (s <= to || text.lastIndexOf('\n', s - 1) < to) { if (e > to) to = e; if (s < from) from = s; continue }
    out.push(from, to)
    from = s
    to = e
  }
  out.push(from, to)
}
