/**
 * Benchmark: cost of Masker.add and Masker.mask with 50 secrets of 1 KB over 10k log lines of 200 chars (plain,
 * with escapes that make the masker decode views, base64 blocks wrapped at 76 columns, byte arrays to decode, and
 * hexdump blocks of secrets). Prints JSON.
 */

import { randomBytes } from 'node:crypto'
import { createLineMasker } from '../runtime/secrets/line-masker.ts'
import { Masker } from '../runtime/secrets/masker.ts'

const SECRETS = 50
const VALUE_BYTES = 1024
const LINES = 10_000
const LINE_CHARS = 200
const ROUNDS = 5

const secrets = Array.from({ length: SECRETS }, () => randomBytes(VALUE_BYTES * 2).toString('base64').slice(0, VALUE_BYTES))
const words = ['task', 'started', 'GET', 'https://api.example.test/v1/items', 'status=200', 'took', '12ms', 'retry',
  'id=4f7c', '{"ok":true}', 'INFO', 'WARN', 'payload', 'bytes=5120', 'user=alice']

function logLine(i: number): string {
  let s = `${new Date(1_700_000_000_000 + i).toISOString()} `
  for (let j = i; s.length < LINE_CHARS; j = (j * 31 + 7) % 1009) s += `${words[j % words.length]} `
  return s.slice(0, LINE_CHARS)
}
const clean = Array.from({ length: LINES }, (_, i) => logLine(i))
// 1% of lines carry a secret (raw or base64) — realistic for a plugin that logs its request.
const dirty = clean.map((l, i) => i % 100 !== 0 ? l : `${l.slice(0, 50)} Bearer ${
  i % 200 === 0 ? secrets[i % SECRETS] : Buffer.from(secrets[i % SECRETS] ?? '').toString('base64')} ${l.slice(50)}`)

// Lines a masker must decode (JSON escapes, %xx, an entity): the decoded views are searched too.
const encoded = clean.map((l) => `${l.slice(0, 150)} {\\"q\\":\\"a%2Fb &amp; c\\"}`)
// Every 50th secret printed as `base64` would: wrapped at 76 columns, between ordinary lines.
const wrappedText = clean.map((l, i) => i % 50 !== 0 ? l
  : `${l}\n${Buffer.from(secrets[(i / 50) % SECRETS] ?? '').toString('base64').replace(/(.{76})/g, '$1\n')}`).join('\n')

// Every 10th line carries a 40-byte Buffer as Bun prints it (no secret in it): the masker decodes the bytes.
const byteLines = clean.map((l, i) => i % 10 !== 0 ? l
  : `${l.slice(0, 80)} <Buffer ${[...randomBytes(40)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}>`)
/** `hexdump -C` rows. */
function hexdump(bytes: Buffer): string {
  const rows: string[] = []
  for (let o = 0; o < bytes.length; o += 16) {
    const row = [...bytes.subarray(o, o + 16)]
    const hex = row.map((b) => b.toString(16).padStart(2, '0'))
    rows.push(`${o.toString(16).padStart(8, '0')}  ${`${hex.slice(0, 8).join(' ')}  ${hex.slice(8).join(' ')}`.padEnd(48)} |${row.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('')}|`)
  }
  return rows.join('\n')
}
// Every 50th line is followed by a secret dumped by `hexdump -C` (64 rows for 1 KB), 7 bytes into its first row.
const dumpText = clean.map((l, i) => i % 50 !== 0 ? l
  : `${l}\n${hexdump(Buffer.concat([Buffer.from('GET /x '), Buffer.from(secrets[(i / 50) % SECRETS] ?? '')]))}`).join('\n')

function time(fn: () => void): number {
  const t0 = Bun.nanoseconds()
  fn()
  return (Bun.nanoseconds() - t0) / 1000
}

function best(fn: () => void): number {
  let min = Infinity
  for (let r = 0; r < ROUNDS; r++) min = Math.min(min, time(fn))
  return min
}

const addUs: number[] = []
let masker = new Masker()
for (let r = 0; r < ROUNDS; r++) {
  masker = new Masker()
  addUs.push(time(() => { for (const s of secrets) masker.add(s) }))
}
const firstMaskUs = time(() => masker.mask(clean[0] ?? '')) // builds the index lazily

let sink = 0
const cleanUs = best(() => { for (const l of clean) sink += masker.mask(l).length })
const dirtyUs = best(() => { for (const l of dirty) sink += masker.mask(l).length })
const streamText = dirty.join('\n')
const streamUs = best(() => {
  const lm = createLineMasker(masker)
  for (let i = 0; i < streamText.length; i += 4096) sink += lm.push(streamText.slice(i, i + 4096)).length
  sink += lm.flush().length
})
const encodedUs = best(() => { for (const l of encoded) sink += masker.mask(l).length })
const wrappedLines: string[] = []
const wrappedUs = best(() => {
  wrappedLines.length = 0
  const lm = createLineMasker(masker)
  for (let i = 0; i < wrappedText.length; i += 4096) wrappedLines.push(...lm.push(wrappedText.slice(i, i + 4096)))
  wrappedLines.push(...lm.flush())
})
const wrappedLeaks = wrappedLines.filter((l) => secrets.some((s) => {
  const b = Buffer.from(s).toString('base64')
  for (let k = 0; k + 16 <= b.length; k += 16) if (l.includes(b.slice(k, k + 16))) return true
  return false
})).length
const byteUs = best(() => { for (const l of byteLines) sink += masker.mask(l).length })
const dumpLines: string[] = []
const dumpUs = best(() => {
  dumpLines.length = 0
  const lm = createLineMasker(masker)
  for (let i = 0; i < dumpText.length; i += 4096) dumpLines.push(...lm.push(dumpText.slice(i, i + 4096)))
  dumpLines.push(...lm.flush())
})
// A row that still shows 8 bytes of a secret, in its hex column or its printable column.
const dumpLeaks = dumpLines.filter((l) => secrets.some((s) => {
  for (let k = 0; k + 8 <= s.length; k += 8) {
    const piece = Buffer.from(s.slice(k, k + 8))
    if (l.includes(piece.toString('latin1')) || l.includes([...piece].map((b) => b.toString(16).padStart(2, '0')).join(' '))) return true
  }
  return false
})).length
const masked = dirty.map((l) => masker.mask(l))
const leaks = masked.filter((l) => secrets.some((s) => l.includes(s.slice(0, 32)))).length

const round = (n: number) => Math.round(n * 1000) / 1000
console.log(JSON.stringify({
  machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version, platform: process.platform, arch: process.arch },
  secrets: SECRETS, valueBytes: VALUE_BYTES, lines: LINES, lineChars: LINE_CHARS,
  patterns: masker.patternCount,
  addAllUs: { min: round(Math.min(...addUs)), perSecret: round(Math.min(...addUs) / SECRETS) },
  indexBuildUs: round(firstMaskUs),
  maskUsPerLine: {
    noSecrets: round(cleanUs / LINES),
    onePercentWithSecret: round(dirtyUs / LINES),
    streamedLineMasker: round(streamUs / LINES),
    withEscapesToDecode: round(encodedUs / LINES),
    streamedWithWrappedBase64: round(wrappedUs / wrappedLines.length),
    withByteArraysToDecode: round(byteUs / LINES),
    streamedWithHexdumpBlocks: round(dumpUs / dumpLines.length),
  },
  linesPerSecond: Math.round(LINES / (cleanUs / 1e6)),
  maskedLinesWithSecret: masked.filter((l) => l.includes('***')).length,
  leaks,
  wrappedBlockLines: wrappedLines.length - LINES,
  wrappedLeaks,
  hexdumpBlockLines: dumpLines.length - LINES,
  hexdumpLeaks: dumpLeaks,
  sink: sink > 0,
}, null, 2))
