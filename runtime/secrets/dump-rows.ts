/**
 * The rows of the dump tools, read as bytes: hexdump -C / xxd / Go's hex.Dump (hex bytes and a printable column,
 * xxd -e's little-endian groups, xxd -b's bits), and the POSIX od family and plain hexdump (od -c / hexdump -c
 * chars, od -b octal bytes, od's default octal words, od -x / hexdump hex words, od -d decimal words, od -t d1).
 */

/** One byte of a dump row: the source range of the token that shows it, its char in a printable column (-1: none). */
export interface DumpByte { from: number; to: number; char: number; value: number }

/** A row's offset, and the blanks after it. */
const OFFSET = /[ \t]*(?:0[xX])?[0-9a-fA-F]{4,16}:?[ \t]+/y
/** A row's offset alone: od's char cells begin with their own blanks. */
const HEAD = /[ \t]*(?:0[xX])?[0-9a-fA-F]{4,16}:?/y
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
  return hexRow(line, at) ?? odRow(line, at)
}

/** A row of hex groups (an even number of digits each, blanks apart), with or without a printable column. */
function hexRow(line: string, at: number): DumpByte[] | undefined {
  const groups: { from: number; to: number; next: number }[] = []
  let p = OFFSET.lastIndex
  for (;;) {
    let q = p
    while (q < line.length && isHexDigit(line.charCodeAt(q))) q++
    if (q === p || (q - p) % 2 !== 0) break
    let r = q
    while (r < line.length && (line.charCodeAt(r) === 32 || line.charCodeAt(r) === 9)) r++
    groups.push({ from: p, to: q, next: r })
    // Wider gaps too: xxd -e right-aligns a last, short group; the printable column check below sorts it out.
    if (r === q) break
    p = r
  }
  if (groups.length === 0) return undefined
  // The printable column may itself look like hex (xxd prints it bare): try the most groups first for which the
  // rest of the line is a printable column of as many chars as there are bytes, showing each printable byte;
  // groups in the order printed (hexdump -C, xxd), then each group read little-endian (xxd -e).
  for (let k = groups.length; k >= 1; k--) {
    for (const little of [false, true]) {
      if (little && !groups.slice(0, k).some((g) => g.to - g.from > 2)) continue
      const bytes = bytesOf(line, groups.slice(0, k), at, little)
      const col = printable(line, groups[k - 1]!.next, bytes.length)
      // Every tool prints a byte that is no printable char as a dot.
      if (col < 0 || !bytes.every((b, i) => line.charCodeAt(col + i) === (b.value < 32 || b.value > 126 ? 46 : b.value))) continue
      bytes.forEach((b, i) => { b.char = at + col + i })
      return bytes
    }
  }
  // No printable column (`od -t x1`, `xxd -g1 -c16` cut): every group is data, and nothing may follow. Wider
  // groups with no printable column are od's and hexdump's little-endian words (or od's octal ones): odRow reads them.
  const last = groups[groups.length - 1]!
  if (groups.some((g) => g.to - g.from !== 2)) return undefined
  return last.next === line.length || last.to === line.length ? bytesOf(line, groups, at, false) : undefined
}

function bytesOf(line: string, groups: readonly { from: number; to: number }[], at: number, little: boolean): DumpByte[] {
  const out: DumpByte[] = []
  for (const g of groups) {
    const n = (g.to - g.from) / 2
    for (let j = 0; j < n; j++) {
      const i = g.from + 2 * (little ? n - 1 - j : j)
      out.push({ from: at + i, to: at + i + 2, char: -1, value: parseInt(line.slice(i, i + 2), 16) })
    }
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

/** od -c / hexdump -c: every cell 4 columns wide, a char right-aligned, a C escape, 3 octal digits, `**` or a space. */
const CHAR_CELLS = /^(?: {3}[^ ]| {2}\\[0abfnrtv]| [0-7]{3}| {2}\*\*| {4})+$/
const CELL_ESCAPES: Record<string, number> = { '0': 0, a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11 }
const TOKEN = /[^ \t]+/g
const BITS_ROW = /^((?: [01]{8})+) {2}(.+)$/

/** Token shapes of od's other formats: the width of a byte or word, the radix, and how many bytes a token holds. */
const WORDS: [RegExp, number, number][] = [
  [/^[0-7]{3}$/, 8, 1], // od -b, od -t o1, hexdump -b
  [/^[0-7]{6}$/, 8, 2], // od, od -o, od -t o2
  [/^[0-9a-fA-F]{4}$/, 16, 2], // od -x, od -t x2, hexdump, hexdump -x
  [/^[0-9a-fA-F]{8}$/, 16, 4], // od -t x4
]

/** A row of the od family (and plain hexdump), whose words are little-endian as the host prints them. */
function odRow(line: string, at: number): DumpByte[] | undefined {
  HEAD.lastIndex = 0
  HEAD.test(line)
  const head = HEAD.lastIndex
  const rest = line.slice(head).replace(/[ \t]+$/, '')
  if (rest.length === 0) return undefined
  if (rest.length % 4 === 0 && CHAR_CELLS.test(rest)) {
    const out: DumpByte[] = []
    for (let i = 0; i < rest.length; i += 4) {
      const cell = rest.slice(i, i + 4).trimStart()
      const value = cell === '' ? 32 : cell.length === 1 ? cell.charCodeAt(0) : cell[0] === '\\' ? CELL_ESCAPES[cell[1]!]! : cell === '**' ? -1 : parseInt(cell, 8)
      // The cell's own chars, not the blanks that align it: a masked row keeps its shape (`0000000   ***`).
      const from = at + head + i + Math.min(3, 4 - cell.length)
      out.push({ from, to: at + head + i + 4, char: -1, value: value > 255 ? -1 : value })
    }
    return out
  }
  const bits = BITS_ROW.exec(rest)
  if (bits) {
    const n = bits[1]!.length / 9
    if (bits[2]!.length !== n) return undefined
    const col = head + bits[1]!.length + 2
    return Array.from({ length: n }, (_, i) => ({ from: at + head + 9 * i + 1, to: at + head + 9 * i + 9, char: at + col + i, value: parseInt(bits[1]!.slice(9 * i + 1, 9 * i + 9), 2) }))
  }
  const tokens: { from: number; text: string }[] = []
  TOKEN.lastIndex = 0
  for (let m = TOKEN.exec(rest); m; m = TOKEN.exec(rest)) tokens.push({ from: head + m.index, text: m[0] })
  const shape = WORDS.find(([re]) => tokens.every((t) => re.test(t.text)))
  let radix = shape?.[1] ?? 10
  let size = shape?.[2] ?? 0
  if (!shape) {
    // od -d, od -t u2 / d2 (words), od -t d1 / u1 (bytes): bytes when every value fits one.
    if (!tokens.every((t) => /^-?\d{1,6}$/.test(t.text))) return undefined
    const values = tokens.map((t) => Number(t.text))
    size = values.every((v) => v >= -128 && v <= 255) ? 1 : values.every((v) => v >= -32768 && v <= 65535) ? 2 : 0
    if (size === 0) return undefined
    radix = 10
  }
  const out: DumpByte[] = []
  for (const t of tokens) {
    let v = parseInt(t.text, radix)
    if (v < 0) v += size === 1 ? 256 : 65536
    for (let j = 0; j < size; j++) out.push({ from: at + t.from, to: at + t.from + t.text.length, char: -1, value: Math.floor(v / 256 ** j) & 0xff })
  }
  return out
}
