/**
 * Benchmark: what masking costs per MB of log, streamed through the line masker as the task actor does, with 50
 * secrets, for logs that exercise each decoding view (plain lines, base64 and hex runs that decode to nothing,
 * escapes, byte arrays, od / hexdump rows) and for logs that carry the secrets stacked and dumped. Prints JSON.
 * With BEFORE=<dir> (a copy of an older runtime/secrets/ under <dir>/runtime/secrets/), the older masker runs
 * the same corpora, interleaved round by round, so that load on the machine falls on both alike.
 */

import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'

const SECRETS = 50
const MB = 1 << 20
const ROUNDS = Number(process.env.ROUNDS ?? 3)

interface MaskerLike { add(v: string): boolean }
interface LineMaskerLike { push(chunk: string): string[]; flush(): string[] }
interface Impl { name: string; Masker: new () => MaskerLike; createLineMasker: (m: MaskerLike) => LineMaskerLike }

async function load(name: string, root: string): Promise<Impl> {
  const m = (await import(resolve(root, 'runtime/secrets/masker.ts'))) as { Masker: Impl['Masker'] }
  const l = (await import(resolve(root, 'runtime/secrets/line-masker.ts'))) as { createLineMasker: Impl['createLineMasker'] }
  return { name, Masker: m.Masker, createLineMasker: l.createLineMasker }
}

// AWS-like keys: 40 chars with `/` and `+`, so that their percent-encoding differs from them.
const secrets = Array.from({ length: SECRETS }, (_, i) => {
  const s = randomBytes(30).toString('base64')
  return `${s.slice(0, 13)}/${s.slice(14, 20)}+${s.slice(21)}${i}`.slice(0, 40)
})
const words = ['task', 'started', 'GET', 'https://api.example.test/v1/items', 'status=200', 'took', '12ms', 'retry',
  'id=4f7c', '{"ok":true}', 'INFO', 'WARN', 'payload', 'bytes=5120', 'user=alice']
function logLine(i: number): string {
  let s = `${new Date(1_700_000_000_000 + i * 37).toISOString()} `
  for (let j = i; s.length < 160; j = (j * 31 + 7) % 1009) s += `${words[j % words.length]} `
  return s.slice(0, 160)
}
/** `n` lines from `line(i)`, joined, at least 1 MB. */
function corpus(line: (i: number) => string): string {
  const out: string[] = []
  let size = 0
  for (let i = 0; size < MB; i++) {
    const l = line(i)
    out.push(l)
    size += l.length + 1
  }
  return `${out.join('\n')}\n`
}
const rand = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + seed * 17 + ((i * seed) >> 3)) & 0xff))
const odC = (b: Buffer, base: number) => {
  const rows: string[] = []
  for (let o = 0; o < b.length; o += 16) {
    rows.push((base + o).toString(8).padStart(7, '0') + [...b.subarray(o, o + 16)].map((x) => (x >= 32 && x < 127 ? String.fromCharCode(x) : x.toString(8).padStart(3, '0')).padStart(4)).join(''))
  }
  return rows.join('\n')
}
const odB = (b: Buffer, base: number) => {
  const rows: string[] = []
  for (let o = 0; o < b.length; o += 16) rows.push(`${(base + o).toString(8).padStart(7, '0')} ${[...b.subarray(o, o + 16)].map((x) => x.toString(8).padStart(3, '0')).join(' ')}`)
  return rows.join('\n')
}
const hexdumpC = (b: Buffer, base: number) => {
  const rows: string[] = []
  for (let o = 0; o < b.length; o += 16) {
    const row = [...b.subarray(o, o + 16)]
    const hex = row.map((x) => x.toString(16).padStart(2, '0'))
    rows.push(`${(base + o).toString(16).padStart(8, '0')}  ${`${hex.slice(0, 8).join(' ')}  ${hex.slice(8).join(' ')}`.padEnd(48)} |${row.map((x) => (x >= 32 && x < 127 ? String.fromCharCode(x) : '.')).join('')}|`)
  }
  return rows.join('\n')
}
const formBody = (token: string) => new URLSearchParams({ grant_type: 'client_credentials', client_secret: token }).toString()

/** The corpora: no secret in the first six, secrets in 1% of the lines (or one dump in 50 lines) in the last. */
const CORPORA: Record<string, string> = {
  plain: corpus(logLine),
  // Every line carries a base64 run (a request id, a digest, a cursor) that decodes to nothing secret.
  base64Runs: corpus((i) => `${logLine(i).slice(0, 100)} cursor=${rand(33, i).toString('base64')} sig=${rand(24, i + 1).toString('base64url')}`),
  // Every line carries hex runs (a sha256, a trace id).
  hexRuns: corpus((i) => `${logLine(i).slice(0, 80)} sha256=${rand(32, i).toString('hex')} trace=${rand(8, i).toString('hex')}`),
  escapes: corpus((i) => `${logLine(i).slice(0, 120)} {\\"q\\":\\"a%2Fb &amp; c\\",\\"u\\":\\"\\u0041\\"}`),
  byteArrays: corpus((i) => `${logLine(i).slice(0, 80)} <Buffer ${[...rand(40, i)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}>`),
  // Every 8th line is followed by a 64-byte dump of random data, cycling through od -c, od -b and hexdump -C.
  dumps: corpus((i) => i % 8 !== 0 ? logLine(i) : `${logLine(i)}\n${[odC, odB, hexdumpC][(i / 8) % 3]!(rand(64, i), 0)}`),
  // Secrets, stacked and dumped: base64 of a form body, JSON of base64, hex of a form body, od -c, od -b.
  stackedSecrets: corpus((i) => {
    if (i % 100 !== 0) return logLine(i)
    const s = secrets[(i / 100) % SECRETS]!
    const bytes = Buffer.from(`GET /x ${s}`)
    return [
      `${logLine(i)} event: ${JSON.stringify({ body: Buffer.from(formBody(s)).toString('base64'), isBase64Encoded: true })}`,
      `hex body ${Buffer.from(formBody(s)).toString('hex')}`,
      JSON.stringify({ creds: Buffer.from(JSON.stringify({ auth: Buffer.from(`u:${s}`).toString('base64') })).toString('base64') }),
      odC(bytes, 0), odB(bytes, 0),
    ].join('\n')
  }),
}

/** Any 12 consecutive chars of a secret, as the lines show them. */
const windows = secrets.flatMap((s) => Array.from({ length: s.length - 11 }, (_, i) => s.slice(i, i + 12)))
const windowSet = new Set(windows)
function leaks(lines: readonly string[]): number {
  let n = 0
  for (const l of lines) {
    const texts = [l]
    for (const run of l.match(/[A-Za-z0-9+/_-]{16,}={0,2}/g) ?? []) {
      const t = Buffer.from(run, 'base64').toString('latin1')
      texts.push(t, t.replace(/%2F/gi, '/').replace(/%2B/gi, '+'))
      for (const inner of t.match(/[A-Za-z0-9+/]{16,}={0,2}/g) ?? []) texts.push(Buffer.from(inner, 'base64').toString('latin1'))
    }
    for (const run of l.match(/[0-9a-f]{16,}/g) ?? []) texts.push(Buffer.from(run, 'hex').toString('latin1').replace(/%2F/gi, '/').replace(/%2B/gi, '+'))
    if (/^[0-7]{7}( {3}.)+$/.test(l)) texts.push(l.slice(7).replace(/ {3}(.)/g, '$1'))
    if (/^[0-7]{7}( [0-7]{3})+$/.test(l)) texts.push(String.fromCharCode(...l.slice(8).split(' ').map((o) => parseInt(o, 8))))
    if (texts.some((t) => { for (let k = 0; k + 12 <= t.length; k++) if (windowSet.has(t.slice(k, k + 12))) return true; return false })) n++
  }
  return n
}

function run(impl: Impl, text: string): { ms: number; lines: string[] } {
  const m = new impl.Masker()
  for (const s of secrets) m.add(s)
  const lm = impl.createLineMasker(m)
  lm.push('warm up the index\n')
  const lines: string[] = []
  const t0 = Bun.nanoseconds()
  for (let i = 0; i < text.length; i += 4096) for (const l of lm.push(text.slice(i, i + 4096))) lines.push(l)
  for (const l of lm.flush()) lines.push(l)
  return { ms: (Bun.nanoseconds() - t0) / 1e6, lines }
}

const impls = [await load('now', resolve(import.meta.dir, '..'))]
if (process.env.BEFORE) impls.unshift(await load('before', process.env.BEFORE))
const best: Record<string, Record<string, number>> = {}
const leaked: Record<string, Record<string, number>> = {}
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, text] of Object.entries(CORPORA)) {
    // Each round swaps the order, so that neither always runs after the other's garbage.
    for (const impl of r % 2 === 0 ? impls : [...impls].reverse()) {
      const { ms, lines } = run(impl, text)
      const b = (best[impl.name] ??= {})
      b[name] = Math.min(b[name] ?? Infinity, ms / (text.length / MB))
      if (r === 0) (leaked[impl.name] ??= {})[name] = leaks(lines)
    }
  }
}
const round = (n: number) => Math.round(n * 10) / 10
console.log(JSON.stringify({
  machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version, platform: process.platform, arch: process.arch },
  secrets: SECRETS, rounds: ROUNDS,
  linesPerMb: Object.fromEntries(Object.entries(CORPORA).map(([k, t]) => [k, t.split('\n').length - 1])),
  msPerMb: Object.fromEntries(Object.entries(best).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([c, ms]) => [c, round(ms)]))])),
  linesLeakingASecret: leaked,
}, null, 2))
