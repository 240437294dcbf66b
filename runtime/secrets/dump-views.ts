/**
 * Decoded views of dump rows (`hexdump -C`, `xxd`, `od -c`, `od -b`, Go's hex.Dump and their kin, dump-rows.ts),
 * whose rows cut a value into 16-byte pieces, twice over when a printable column shows it again. Consecutive rows
 * are joined and read as hex and as text, and each column is mapped to the other too, so a secret found in one
 * is hidden in both.
 */

import { CUT_MIN_HEX } from './byte-views.ts'
import { parseRow, startsLikeRow, type DumpByte } from './dump-rows.ts'
import { builder, type View } from './view-builder.ts'

export { parseRow, startsLikeRow } from './dump-rows.ts'

const hexOf = (v: number): string => (v < 0 ? '--' : (v < 16 ? '0' : '') + v.toString(16))

/**
 * The views of the dumps in `s` (consecutive row lines form one dump; a `*` line, or any other line, ends it): the
 * joined bytes as lower-case hex, and as text (one char a byte, `decoded`), each mapped to the tokens that show the
 * bytes and, as a twin when the rows have a printable column, to its chars. Empty when `s` has no row.
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
  const withChars = dumps.some((d) => d.some((b) => b.char >= 0))
  const hex = builder(s)
  const hexToChar = builder(s)
  const text = builder(s)
  const textToChar = builder(s)
  const hexCuts: number[] = []
  const cuts: number[] = []
  for (const [d, dump] of dumps.entries()) {
    // Nothing matches across two dumps: a line break between them, standing for the first one's last byte.
    const end = dumps[d - 1]?.at(-1)?.to ?? 0
    if (d > 0) for (const v of [hex, hexToChar, text, textToChar]) v.emit('\n', end - 1, end)
    for (const b of dump) {
      const pair = hexOf(b.value)
      const ch = b.value < 0 ? '\uffff' : String.fromCharCode(b.value)
      hex.emit(pair, b.from, b.to)
      text.emit(ch, b.from, b.to)
      if (!withChars) continue
      hexToChar.emit(pair, b.char >= 0 ? b.char : b.from, b.char >= 0 ? b.char + 1 : b.to)
      textToChar.emit(ch, b.char >= 0 ? b.char : b.from, b.char >= 0 ? b.char + 1 : b.to)
    }
    // A dump that stops inside a secret shows its beginning (`head -c 20 | xxd`): hidden from 4 bytes on.
    hexCuts.push(hex.length)
    cuts.push(text.length)
  }
  const hexViews = withChars ? [hex.done(), hexToChar.done()] : [hex.done()]
  for (const v of hexViews) Object.assign(v, { cuts: hexCuts, cutMin: CUT_MIN_HEX })
  if (lastIsRow) hexViews[0]!.openEnd = hexViews[0]!.text.length
  const textViews = withChars ? [text.done(), textToChar.done()] : [text.done()]
  for (const v of textViews) Object.assign(v, { cuts, cutMin: CUT_MIN_HEX / 2, decoded: true })
  const views = [...hexViews, ...textViews]
  for (const v of views) v.perLine = true
  return views
}
