/**
 * Review 2, class "masking misses an accident", compositions of encodings and dump formats: a secret encoded twice
 * by ordinary code (base64 or hex of an escaped form, base64 of JSON holding its base64), and the POSIX dump tools
 * (every od format, plain hexdump, xxd -b / -e), each streamed line by line through the line masker with the
 * secret at every offset. Only the form body in base64 and od -c / od -b were listed by the review; the rest are
 * variants of the class. The filler bytes are 0x80–0xff and the secret's printable ASCII, so a byte in its range
 * that shows is the secret's.
 */

import { describe, expect, it } from 'bun:test'
import { createLineMasker } from './line-masker.ts'
import { MASK, Masker } from './masker.ts'

// An AWS-like key: `/` and `+` in it, so that its percent-encoding differs from it.
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
const m = new Masker()
m.add(SECRET)

/** Masks `text` as the task actor does: line by line, in chunks. */
function stream(text: string, chunk = 89): string {
  const lm = createLineMasker(m)
  const out: string[] = []
  for (let i = 0; i < text.length; i += chunk) out.push(...lm.push(text.slice(i, i + chunk)))
  out.push(...lm.push('\n'), ...lm.flush())
  return out.join('\n')
}

/** Any 8 consecutive chars of the value, in `text` or in what its base64 and hex runs decode to (then unescaped). */
function shows(text: string): boolean {
  const texts = [text]
  for (const run of text.match(/[A-Za-z0-9+/_-]{12,}/g) ?? []) {
    for (let a = 0; a < 4; a++) texts.push(Buffer.from(run.slice(a), 'base64').toString('latin1'))
  }
  for (const run of text.match(/[0-9a-fA-F]{12,}/g) ?? []) texts.push(Buffer.from(run, 'hex').toString('latin1'))
  // Base64 inside what base64 decodes to (a registry auth inside a .dockerconfigjson).
  for (const t of texts.slice(1)) for (const run of t.match(/[A-Za-z0-9+/]{12,}/g) ?? []) texts.push(Buffer.from(run, 'base64').toString('latin1'))
  const plain = texts.flatMap((t) => [t, t.replace(/\\u00([0-9a-f]{2})|\\(\/)/gi, (_, h, s) => s ?? String.fromCharCode(parseInt(h, 16)))])
    .flatMap((t) => { try { return [t, decodeURIComponent(t.replace(/\+/g, ' '))] } catch { return [t] } })
  return plain.some((t) => { for (let i = 0; i + 8 <= SECRET.length; i++) if (t.includes(SECRET.slice(i, i + 8))) return true; return false })
}

const form = (token: string) => new URLSearchParams({ grant_type: 'client_credentials', client_secret: token }).toString()
const b64 = (s: string) => Buffer.from(s).toString('base64')
const lowerPercent = (s: string) => s.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase())

describe('a secret encoded twice by ordinary code is masked', () => {
  const cases: [string, string][] = [
    ['base64 of a form body (an API gateway event, isBase64Encoded)', `event: ${JSON.stringify({ body: b64(form(SECRET)), isBase64Encoded: true })}`],
    ['url-safe, unpadded base64 of a form body with lower-case %xx', `body=${Buffer.from(lowerPercent(form(SECRET))).toString('base64url')}`],
    ['base64 of a JSON body that \\u-escapes and \\/-escapes', `payload ${b64(`{"key":"${SECRET.replace(/\//g, '\\/').replace(/\+/g, '\\u002b')}"}`)}`],
    ['base64 in a URL path, after chars of the base64 alphabet', `GET /v1/decode/${b64(`q=${encodeURIComponent(SECRET)}`)} 200`],
    // Variants nobody listed:
    ['.dockerconfigjson: base64 of JSON holding base64 of user:token', `data: ${b64(JSON.stringify({ auths: { 'registry.test': { auth: b64(`bot:${SECRET}`) } } }))}`],
    ['hex of a form body (xxd -p, a hex-logged request)', `body hex ${Buffer.from(form(SECRET)).toString('hex')}`],
    ['upper-case hex of a JSON body with an HTML entity', `raw=${Buffer.from(`{"k":"${SECRET.replace(/\//g, '&#x2F;')}"}`).toString('hex').toUpperCase()}`],
    ['base64 of a form body, inside a JSON string that \\/-escapes', JSON.stringify({ log: JSON.stringify({ body: b64(form(SECRET)) }).replace(/\//g, '\\/') })],
    ['a base64 form body wrapped at 76 columns (MIME) in one text', `Content-Transfer-Encoding: base64\n\n${b64(`${form(SECRET)}&state=${'x'.repeat(60)}`).replace(/(.{76})/g, '$1\n')}`],
  ]
  for (const [name, text] of cases) {
    it(name, () => {
      expect(shows(text)).toBe(true) // the case does show the value: a check that cannot fail is no test
      const once = m.mask(text)
      expect(once).toContain(MASK)
      expect(shows(once)).toBe(false)
      if (!text.includes('\n')) expect(shows(stream(text))).toBe(false)
    })
  }

  it('keeps what encodes the rest of the data: only the chars that carry the secret are hidden', () => {
    const out = m.mask(b64(form(SECRET)))
    // grant_type=client_credentials&client_secret= is 44 bytes: 58 chars of it are the prefix's alone.
    expect(out.startsWith(b64(form(SECRET)).slice(0, 58))).toBe(true)
    expect(m.mask(`id ${b64('nothing secret in this payload at all')} done`)).toBe(`id ${b64('nothing secret in this payload at all')} done`)
  })
})

const filler = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => 0x80 + ((i * 37 + seed * 11) % 0x80)))
const inRange = (b: number) => b > 0x20 && b < 0x7f
const tool = (cmd: string[]) => (b: Buffer) => Bun.spawnSync(cmd, { stdin: b }).stdout.toString().trimEnd()

type Reading = 'cells' | 'oct1' | 'oct2' | 'hex2' | 'dec1' | 'dec2' | 'bits' | 'hex4col'
/** Each dump tool, and how its tokens read as bytes (an independent reading, for counting what shows). */
const TOOLS: [string, Reading, (b: Buffer) => string][] = [
  ['od -c (listed)', 'cells', tool(['od', '-c'])],
  ['od -b (listed)', 'oct1', tool(['od', '-b'])],
  ['od (octal words)', 'oct2', tool(['od'])],
  ['od -x (little-endian hex words)', 'hex2', tool(['od', '-x'])],
  ['od -d (decimal words)', 'dec2', tool(['od', '-d'])],
  ['od -t d1 (signed decimal bytes)', 'dec1', tool(['od', '-t', 'd1'])],
  ['od -A x -c', 'cells', tool(['od', '-A', 'x', '-c'])],
  ['od -t o1', 'oct1', tool(['od', '-t', 'o1'])],
  ['od -t x2', 'hex2', tool(['od', '-t', 'x2'])],
  ['od -t x4 (4-byte words)', 'hex4col', tool(['od', '-t', 'x4'])],
  ['od -t u2', 'dec2', tool(['od', '-t', 'u2'])],
  ['hexdump (plain, little-endian words)', 'hex2', tool(['hexdump'])],
  ['hexdump -x (wide words)', 'hex2', tool(['hexdump', '-x'])],
  ['hexdump -c', 'cells', tool(['hexdump', '-c'])],
  ['hexdump -b', 'oct1', tool(['hexdump', '-b'])],
  ['xxd -b (bits and chars)', 'bits', tool(['xxd', '-b'])],
  ['xxd -e (little-endian groups and chars)', 'hex4col', tool(['xxd', '-e'])],
]

/** How many of the secret's bytes the dump shows (offsets left out; words read little-endian; a printable column too). */
function shownBytes(out: string, how: Reading): number {
  let shown = 0
  for (const line of out.split('\n')) {
    const tokens = line.replace(/^[ \t]*[0-9a-fA-F]{4,}:?/, '').trim().split(/[ \t]+/).filter((t) => t !== '')
    const bytes: number[] = []
    const word = (v: number, n: number) => { for (let j = 0; j < n; j++) bytes.push((v >> (8 * j)) & 0xff) }
    for (const t of tokens) {
      if (how === 'cells' && t.length === 1) bytes.push(t.charCodeAt(0))
      if (how === 'oct1' && /^[0-7]{3}$/.test(t)) bytes.push(parseInt(t, 8))
      if (how === 'oct2' && /^[0-7]{6}$/.test(t)) word(parseInt(t, 8), 2)
      if (how === 'hex2' && /^[0-9a-f]{4}$/.test(t)) word(parseInt(t, 16), 2)
      if (how === 'dec1' && /^-?\d{1,3}$/.test(t)) bytes.push((Number(t) + 256) % 256)
      if (how === 'dec2' && /^\d{1,5}$/.test(t)) word(Number(t), 2)
      if (how === 'bits' && /^[01]{8}$/.test(t)) bytes.push(parseInt(t, 2))
      if (how === 'hex4col' && /^[0-9a-f]{8}$/.test(t)) word(parseInt(t, 16), 4)
    }
    // The printable column (xxd): the last token, when it is not data.
    const last = tokens.at(-1) ?? ''
    if ((how === 'bits' || how === 'hex4col') && !/^[01]{8}$|^[0-9a-f]{8}$/.test(last)) for (const c of last) if (c !== '.' && c !== '*') bytes.push(c.charCodeAt(0)) // the filler shows as dots, masks as `*`
    shown += bytes.filter(inRange).length
  }
  return shown
}

describe('a secret dumped by od, hexdump or xxd, at every offset, streamed line by line', () => {
  for (const [name, how, print] of TOOLS) {
    it(name, () => {
      const worst: string[] = []
      for (let offset = 0; offset <= 20; offset++) {
        const raw = print(Buffer.concat([filler(offset, offset), Buffer.from(SECRET), filler(9, offset + 1)]))
        const twice = how === 'bits' || (how === 'hex4col' && name.startsWith('xxd'))
        expect(`${offset}: ${shownBytes(raw, how)}`).toBe(`${offset}: ${SECRET.length * (twice ? 2 : 1)}`)
        const out = stream(raw)
        expect(out).toContain(MASK)
        // A byte at the end of a row can show (1 byte does not make a row be held back), in each column.
        if (shownBytes(out, how) > (twice ? 2 : 1) * (how === 'hex2' || how === 'oct2' || how === 'dec2' ? 2 : 1)) worst.push(`offset ${offset}:\n${out}`)
      }
      expect(worst.slice(0, 1)).toEqual([])
    })
  }

  it("keeps each row's offset: a match over several rows is hidden row by row", () => {
    const out = stream(tool(['od', '-c'])(Buffer.from(SECRET)))
    expect(out.split('\n').map((l) => l.slice(0, 8))).toEqual(['0000000 ', '0000020 ', '0000040 ', '0000050'])
  })

  it('leaves dumps of other data, and lines that only start like a row, as they are', () => {
    const data = Buffer.from('GET /health HTTP/1.1\r\nHost: example.test\r\n\r\n')
    for (const [, , print] of TOOLS) {
      const raw = print(data)
      expect(stream(raw)).toBe(raw)
    }
    for (const l of ['2023 12 14 started', '0000000   a   b', 'cafe 1234 5678 9abc', '00000000: 01100001 01100010  ab']) expect(stream(l)).toBe(l)
  })
})
