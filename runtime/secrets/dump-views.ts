/**
 * Decoded views of hexdump rows (`hexdump -C`, `xxd`, `od -A x -t x1z`, Go's hex.Dump and their kin: an offset,
 * hex bytes in groups, the printable chars), whose rows cut a value into 16-byte pieces twice over: once in the
 * hex column and once in the printable column. Consecutive rows are joined, and each column is mapped to the
 * other too, so a secret found in one is hidden in both.
 */

import { CUT_MIN_HEX } from './byte-views.ts'
import { builder, type View } from './view-builder.ts'

/** One byte of a dump: where its two hex digits are, and its char in the printable column (-1: none). */
interface DumpByte { hex: number; char: number; value: number }

const OFFSET = /[ \t]*(?:0[xX])?[0-9a-fA-F]{4,16}:?[ \t]+/y
const isHexDigit = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)

/** Whether the line of `s` that starts at `at` begins like a dump row (an offset, then blanks). */
export function startsLikeRow(s: string, at: number): boolean {
  OFFSET.lastIndex = at
  return OFFSET.test(s)
}

/** The bytes of a dump row, or undefined when the line is not one. `at` is the line's offset in the text. */
export function parseRow(line: string, at = 0): DumpByte[] | undefined {
  OFFSET.lastIndex = 0
  if (!OFFSET.test(line)) return undefined
  // Hex groups of an even number of digits, one or two blanks apart (hexdump -C's middle gap is two).
  const groups: { from: number; to: number; next: number }[] = []
  let p = OFFSET.lastIndex
  for (;;) {
    let q = p
    while (q < line.length && isHexDigit(line.charCodeAt(q))) q++
    if (q === p || (q - p) % 2 !== 0) break
    let r = q
    while (r < line.length && (line.charCodeAt(r) === 32 || line.charCodeAt(r) === 9)) r++
    groups.push({ from: p, to: q, next: r })
    if (r === q || r - q > 2) break
    p = r
  }
  if (groups.length === 0) return undefined
  // The printable column may itself look like hex (xxd prints it bare): try the most groups first for which the
  // rest of the line is a printable column of as many chars as there are bytes, showing each printable byte.
  for (let k = groups.length; k >= 1; k--) {
    const bytes = bytesOf(line, groups.slice(0, k), at)
    const rest = groups[k - 1]!.next
    const col = printable(line, rest, bytes.length)
    if (col >= 0 && bytes.every((b, i) => {
      const ch = line.charCodeAt(col + i)
      return b.value < 32 || b.value > 126 || ch === b.value
    })) {
      bytes.forEach((b, i) => { b.char = at + col + i })
      return bytes
    }
  }
  // No printable column (`od -t x1`, `xxd -g1 -c16` cut): every group is data, and nothing may follow.
  const last = groups[groups.length - 1]!
  return last.next === line.length || last.to === line.length ? bytesOf(line, groups, at) : undefined
}

function bytesOf(line: string, groups: readonly { from: number; to: number }[], at: number): DumpByte[] {
  const out: DumpByte[] = []
  for (const g of groups) {
    for (let i = g.from; i < g.to; i += 2) out.push({ hex: at + i, char: -1, value: parseInt(line.slice(i, i + 2), 16) })
  }
  return out
}

/** Where the printable column of `n` chars starts, from `i` (`|…|`, `>…<` or bare to the end of the line); -1 if none. */
function printable(line: string, i: number, n: number): number {
  const rest = line.length - i
  const open = line[i]
  if ((open === '|' || open === '>') && rest === n + 2 && line[line.length - 1] === (open === '|' ? '|' : '<')) return i + 1
  return rest === n && n > 0 ? i : -1
}

/**
 * The views of the dumps in `s` (consecutive row lines form one dump; a `*` line, or any other line, ends it): the
 * joined hex column (lower case) mapped to the hex digits and, as a twin, to the printable chars; and the joined
 * printable column mapped to the printable chars and, as a twin, to the hex digits. Empty when `s` has no row.
 */
export function dumpViews(s: string): View[] {
  const dumps: DumpByte[][] = []
  let current: DumpByte[] | undefined
  let lastIsRow = false
  for (let at = 0; at <= s.length;) {
    let nl = s.indexOf('\n', at)
    if (nl < 0) nl = s.length
    // Most lines fail at their first chars: no slice for them.
    const row = startsLikeRow(s, at) ? parseRow(s.slice(at, s.charCodeAt(nl - 1) === 13 ? nl - 1 : nl), at) : undefined
    if (row) (current ??= (dumps.push([]), dumps[dumps.length - 1]!)).push(...row)
    else current = undefined
    lastIsRow = row !== undefined
    at = nl + 1
  }
  if (dumps.length === 0) return []
  const hex = builder(s)
  const hexToChar = builder(s)
  const chars = builder(s)
  const charsToHex = builder(s)
  const hexCuts: number[] = []
  const charCuts: number[] = []
  for (const [d, dump] of dumps.entries()) {
    // Nothing matches across two dumps: a line break between them, standing for the first one's last byte.
    const end = dumps[d - 1]?.at(-1)?.hex ?? 0
    if (d > 0) for (const v of [hex, hexToChar, chars, charsToHex]) v.emit('\n', end, end + 2)
    for (const b of dump) {
      const pair = s.slice(b.hex, b.hex + 2).toLowerCase()
      hex.emit(pair, b.hex, b.hex + 2)
      hexToChar.emit(pair, b.char >= 0 ? b.char : b.hex, b.char >= 0 ? b.char + 1 : b.hex + 2)
      if (b.char < 0) continue
      chars.emit(s[b.char]!, b.char, b.char + 1)
      charsToHex.emit(s[b.char]!, b.hex, b.hex + 2)
    }
    // A dump that stops inside a secret shows its beginning (`head -c 20 | xxd`): hidden from 4 bytes on.
    hexCuts.push(hex.length)
    charCuts.push(chars.length)
  }
  const views = [hex.done(), hexToChar.done()]
  for (const v of views) Object.assign(v, { cuts: hexCuts, cutMin: CUT_MIN_HEX })
  if (lastIsRow) views[0]!.openEnd = views[0]!.text.length
  if (chars.length > 0) {
    for (const v of [chars.done(), charsToHex.done()]) views.push(Object.assign(v, { cuts: charCuts, cutMin: CUT_MIN_HEX / 2 }))
  }
  return views
}
