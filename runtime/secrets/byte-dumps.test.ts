/**
 * Review finding 5, class "masking misses an accident": a secret printed as bytes by debugging code. Every printer
 * below is a variant of the class (the review listed `<Buffer …>`, `Uint8Array(32) [ … ]`, a JSON byte array and
 * hexdump rows); each is streamed line by line through the line masker with the secret at every byte offset of a
 * larger buffer, so it lands on every row boundary and every truncation point, and the bytes still shown are
 * counted. The filler bytes are 0x80–0xff and the secret's are printable ASCII, so any byte in its range that
 * shows is the secret's.
 */

import { describe, expect, it } from 'bun:test'
import util from 'node:util'
import { createLineMasker } from './line-masker.ts'
import { MASK, Masker } from './masker.ts'

const SECRET = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'
const m = new Masker()
m.add(SECRET)

/** Masks `text` as the task actor does: line by line, in chunks. */
function stream(text: string, chunk = 97): string {
  const lm = createLineMasker(m)
  const out: string[] = []
  for (let i = 0; i < text.length; i += chunk) out.push(...lm.push(text.slice(i, i + chunk)))
  out.push(...lm.push('\n'), ...lm.flush())
  return out.join('\n')
}

const filler = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => 0x80 + ((i * 37 + seed * 11) % 0x80)))
const inSecretRange = (b: number) => b > 0x20 && b < 0x7f

type Kind = 'hex' | 'dec' | 'rows'
const hexOf = (b: Buffer, sep = ' ', upper = false) => [...b].map((x) => x.toString(16).padStart(2, '0')).map((h) => (upper ? h.toUpperCase() : h)).join(sep)

/** Rows as `hexdump -C`, Go's hex.Dump and many libraries print them; `style` picks the variant. */
function rows(b: Buffer, style: 'hexdump' | 'python' | 'tcpdump'): string {
  const out: string[] = []
  for (let o = 0; o < b.length; o += 16) {
    const row = b.subarray(o, o + 16)
    const chars = [...row].map((x) => (x >= 32 && x < 127 ? String.fromCharCode(x) : '.')).join('')
    if (style === 'hexdump') out.push(`${o.toString(16).padStart(8, '0')}  ${`${hexOf(row.subarray(0, 8))}  ${hexOf(row.subarray(8))}`.padEnd(48)} |${chars}|`)
    if (style === 'python') out.push(`${o.toString(16).padStart(8, '0').toUpperCase()}: ${hexOf(row, ' ', true).padEnd(48)} ${chars}`)
    if (style === 'tcpdump') out.push(`\t0x${o.toString(16).padStart(4, '0')}:  ${(hexOf(row, '').match(/.{1,4}/g) ?? []).join(' ').padEnd(40)}  ${chars}`)
  }
  return out.join('\n')
}

const tool = (cmd: string[]) => (b: Buffer) => Bun.spawnSync(cmd, { stdin: b }).stdout.toString().trimEnd()

/** Each printer, the kind of tokens it shows, and whether it shows only part of the data (then up to 3 bytes may show). */
const PRINTERS: [string, Kind, (b: Buffer) => string, boolean?][] = [
  ['Bun.inspect(Buffer): <Buffer 73 6b …> (50 bytes, then "... N more bytes")', 'hex', (b) => Bun.inspect(b), true],
  ['util.inspect({ body: Buffer })', 'hex', (b) => util.inspect({ body: b }), true],
  ['Bun.inspect(Uint8Array) on one line', 'dec', (b) => Bun.inspect(new Uint8Array(b))],
  ['util.inspect(Uint8Array): padded columns over several lines', 'dec', (b) => util.inspect(new Uint8Array(b))],
  ['Bun.inspect(Array.from(buffer)) over several lines', 'dec', (b) => Bun.inspect([...b])],
  ['Bun.inspect of a nested ArrayBuffer', 'dec', (b) => Bun.inspect({ payload: { raw: b.buffer.slice(b.byteOffset, b.byteOffset + b.length) } })],
  ['JSON.stringify(Buffer): {"type":"Buffer","data":[…]}', 'dec', (b) => JSON.stringify(b)],
  ['JSON.stringify(Uint8Array): {"0":115,"1":107,…}', 'dec', (b) => JSON.stringify(new Uint8Array(b))],
  ['JSON.stringify(Array.from(buffer), null, 2): one byte per line', 'dec', (b) => JSON.stringify([...b], null, 2)],
  ["Java's Arrays.toString(byte[]): signed", 'dec', (b) => `[${[...new Int8Array(b)].join(', ')}]`],
  ["Go's %v of a []byte", 'dec', (b) => `body=[${[...b].join(' ')}]`],
  ['od -An -tu1', 'dec', tool(['od', '-An', '-tu1'])],
  ['upper-case hex with colons', 'hex', (b) => hexOf(b, ':', true)],
  [".NET's BitConverter.ToString: 73-6B-…", 'hex', (b) => hexOf(b, '-', true)],
  ['a C array: { 0x73, 0x6b, … }', 'hex', (b) => `{ ${[...b].map((x) => `0x${x.toString(16).padStart(2, '0')}`).join(', ')} }`],
  ['hex strings in an array: toString(16), unpadded', 'hex', (b) => Bun.inspect([...b].map((x) => x.toString(16)))],
  ['od -An -tx1: spaced hex, 16 a line', 'hex', tool(['od', '-An', '-tx1'])],
  ['hexdump -C', 'rows', tool(['hexdump', '-C'])],
  ['xxd', 'rows', tool(['xxd'])],
  ['xxd -g1 -c 12', 'rows', tool(['xxd', '-g1', '-c', '12'])],
  ['od -A x -t x1z', 'rows', tool(['od', '-A', 'x', '-t', 'x1z'])],
  ["hexdump -C's layout from code (Go's hex.Dump)", 'rows', (b) => rows(b, 'hexdump')],
  ['upper-case rows with a bare printable column (Python hexdump)', 'rows', (b) => rows(b, 'python')],
  ['tcpdump -X rows (0x offsets, 2-byte groups)', 'rows', (b) => rows(b, 'tcpdump')],
]

/** How many of the secret's bytes a masked dump still shows, in every column. */
function shownBytes(out: string, kind: Kind): number {
  let t = out.replace(/\.\.\. \d+ more \w+/g, '').replace(/\w+Array\(\d+\)/g, '')
  let shown = 0
  if (kind === 'rows') {
    // Printable columns: `|…|`, `>…<`, or bare after two blanks; the filler shows as dots, masks as `*`.
    t = t.replace(/\|([^|\n]*)\|[ \t]*$|>([^<\n]*)<[ \t]*$|  ([^\s|>]\S{0,15})[ \t]*$/gm, (_, a = '', b = '', c = '') => {
      shown += [...`${a}${b}${c}`].filter((ch) => ch !== '.' && ch !== '*').length
      return ''
    }).replace(/^[ \t]*(?:0x)?[0-9a-fA-F]{4,8}:?/gm, '')
  }
  if (kind === 'dec') {
    for (const tok of t.match(/(?<![\w".(-])-?\d{1,3}(?![\w".)])/g) ?? []) if (inSecretRange((Number(tok) + 256) % 256)) shown++
    return shown
  }
  for (const tok of t.match(/(?<![0-9A-Za-z_])(?:0x)?(?:[0-9a-fA-F]{2})+(?![0-9A-Za-z_])|(?<=["'])[0-9a-f](?=["'])/g) ?? []) {
    const digits = tok.replace(/^0x/, '').padStart(2, '0')
    for (let i = 0; i < digits.length; i += 2) if (inSecretRange(parseInt(digits.slice(i, i + 2), 16))) shown++
  }
  return shown
}

describe('a secret printed as bytes, at every offset of a larger buffer (review finding 5)', () => {
  for (const [name, kind, print, partial] of PRINTERS) {
    it(name, () => {
      const worst: string[] = []
      for (let offset = 0; offset <= 52; offset++) {
        const data = Buffer.concat([filler(offset, offset), Buffer.from(SECRET), filler(24, offset + 1)])
        const raw = print(data)
        // The printer shows the secret (a counter that cannot fail is no test), unless it left that part out.
        const before = shownBytes(raw, kind)
        if (!partial) expect(before).toBe(SECRET.length * (kind === 'rows' ? 2 : 1))
        if (before === 0) continue
        const out = stream(raw)
        const shown = shownBytes(out, kind)
        // A byte at the end of a row can show; a printer that cut the data may show up to 3 of the secret's first.
        if (shown > (partial ? 3 : kind === 'rows' ? 2 : 1)) worst.push(`offset ${offset}: ${shown} bytes shown\n${out}`)
        if (before >= 4) expect(out).toContain(MASK)
      }
      expect(worst.slice(0, 1)).toEqual([])
    })
  }
})

describe('byte arrays in outputs and error details (maskDeep)', () => {
  const bytes = [...Buffer.from(SECRET)]
  it('masks an array of bytes, a Buffer as JSON and a typed array as JSON, keeping the rest', () => {
    const out: Record<string, unknown> = m.maskDeep({
      list: [1, 2, ...bytes, 3],
      buffer: JSON.parse(JSON.stringify(Buffer.from(`x${SECRET}`))),
      typed: JSON.parse(JSON.stringify(new Uint8Array(Buffer.from(SECRET)))),
      signed: [...new Int8Array(Buffer.from(`é${SECRET}`))],
      nested: { error: { details: { body: bytes } } },
    })
    expect(out.list).toEqual([1, 2, MASK, 3])
    expect(out.buffer).toEqual({ type: 'Buffer', data: [120, MASK] })
    expect(Object.values(out.typed as Record<string, unknown>).every((v) => v === MASK)).toBe(true)
    expect(out.signed).toEqual([-61, -87, MASK])
    expect(out.nested).toEqual({ error: { details: { body: [MASK] } } })
  })

  it("masks a byte array that ends with 4 or more of the secret's first bytes, and leaves one that merely looks like bytes", () => {
    expect(m.maskDeep([200, 201, ...bytes.slice(0, 4)]) as unknown[]).toEqual([200, 201, MASK])
    expect(m.maskDeep([200, 201, ...bytes.slice(0, 3)])).toEqual([200, 201, ...bytes.slice(0, 3)])
    const plain = { counts: [1, 2, 3, 4, 5, 200, 255], rgb: { 0: 12, 1: 200, 2: 7, 3: 1 } }
    expect(m.maskDeep(plain)).toEqual(plain)
  })
})

describe('a non-ASCII secret as bytes read one by one', () => {
  it("Python's bytes repr and Go's %q (\\x escapes per byte), UTF-8 read as Latin-1, and its byte dumps", () => {
    const value = 'pässwörd-€-0123456789'
    const mu = new Masker()
    mu.add(value)
    const utf8 = Buffer.from(value)
    const pyRepr = `b'${[...utf8].map((b) => (b < 128 ? String.fromCharCode(b) : `\\x${b.toString(16)}`)).join('')}'`
    const cases: [string, string][] = [
      [pyRepr, "b'***'"], [utf8.toString('latin1'), '***'], [Bun.inspect(utf8), '<Buffer ***>'],
      [JSON.stringify(utf8), '{"type":"Buffer","data":[***]}'], [`[${[...new Int8Array(utf8)].join(', ')}]`, '[***]'],
    ]
    for (const [text, masked] of cases) expect(`${text} → ${mu.mask(text)}`).toBe(`${text} → ${masked}`)
  })
})

describe('data cut short by its printer: a beginning of the secret of 4 chars or more is hidden', () => {
  it("util.inspect's long string, an ellipsis after a prefix, a truncated Buffer", () => {
    const long = util.inspect(`${'x'.repeat(9_990)}${SECRET}`) // `'xx…sk_live_4e'... 22 more characters`
    expect(long).toContain(SECRET.slice(0, 10))
    expect(m.mask(long)).not.toContain(SECRET.slice(0, 4))
    for (const shown of [4, 10, 31]) {
      expect(m.mask(`token: ${SECRET.slice(0, shown)}...`)).toBe('token: ***...')
      expect(m.mask(`token: ${SECRET.slice(0, shown)}…`)).toBe('token: ***…')
    }
    expect(m.mask(`token: ${SECRET.slice(0, 3)}...`)).toBe(`token: ${SECRET.slice(0, 3)}...`)
    const buf = Bun.inspect(Buffer.concat([filler(46, 1), Buffer.from(SECRET)])) // 4 bytes of it before "... 28 more bytes"
    expect(m.mask(buf)).toMatch(/\*\*\* \.\.\. 28 more bytes>$/)
  })
})

describe('text that only looks like bytes is left alone, and ordinary lines are never held', () => {
  it('dates, times, versions, addresses, ids, small JSON numbers and dumps of other data', () => {
    const lines = [
      '2023-11-14T22:13:20.000Z GET /items 200 12ms',
      'release 1.2.3 on 10.0.0.1:8080, uuid 550e8400-e29b-41d4-a716-446655440000',
      '{"a":1,"b":2,"c":[1,2,3,4,5,6,7,8]} took 12 34 56 78 ms',
      'mac 00:1A:2B:3C:4D:5E sha 4f7c0a1b', Bun.inspect(Buffer.from('no secret in here at all')),
      rows(Buffer.from('no secret here either, just data'), 'hexdump'),
    ]
    for (const l of lines) expect(stream(l)).toBe(l)
    // Held only when the end could begin the secret (2 bytes or more, `73 6b` is `sk`); the others go out at once.
    for (const [l, held] of [['took 200', false], ['count: 12, 14', false], ['sizes 72 6b', false], ['sizes 73 6b', true],
      ['  115, 107,', true], ['  115, 107, 95,', true], ['00000000  73 6b 5f 6c', true], ['00000000  80 81 82 83', false]] as const) {
      const lm = createLineMasker(m)
      expect(`${l} → ${lm.push(`${l}\n`).length === 0}`).toBe(`${l} → ${held}`)
      // At the end of the stream a held beginning shows, unless it is 4 bytes or more (the end of a dump is a cut).
      const rest = lm.flush().join('\n')
      if (held) expect(rest).toBe(l.includes('6c') ? '00000000  ***' : l)
    }
  })
})
