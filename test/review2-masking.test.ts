/**
 * Review 2 attack, class "masking misses an accident" (the new decoders and the stacked forms), through the real
 * engine: the log rows in SQLite hold the value.
 * - docs/secrets.md promises "two of these stacked", with base64 among them, but base64 is only ever matched as the
 *   base64 of the value itself (at three alignments): the masker has no base64 *decoding* view, so base64 of an
 *   escaped value is not found. The everyday case: an HTTP event whose form body is base64-encoded (API gateways
 *   and Lambda hand bodies over so, `isBase64Encoded: true`, and handlers log the event); a key with `/` or `+`
 *   (every AWS secret key, most base64 keys) is percent-encoded in the body, and the base64 of that is not the
 *   base64 of the key. The same for hex of an escaped value, and for base64 of a JSON string with `"` or `\`.
 * - the byte-dump class covers hexdump/xxd/Buffer/Uint8Array, not the POSIX dump tool: `od -c` (each char
 *   right-aligned in 4 columns) shows the value char by char, and `od -b` (octal bytes) is read as decimal bytes.
 *
 * Recommended fix: add a base64 (and hex) decoding view — runs of ≥ 16 base64 chars (or ≥ 12 hex digits) decoded
 * to text, then the existing unescaping views applied to the decoded text, matches mapped back to the run (mask the
 * whole run: its chars do not map one to one); add od's layouts to dump-views (a char column per byte: `-c`; octal
 * bytes: `-b`, and the default 2-byte octal words), or document that they are out.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createEngine } from '../actors/engine.ts'
import type { Engine } from '../actors/engine-types.ts'
import { testConfig, TEST_PLUGINS, workflow } from './helpers/engine.ts'

const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
/** Any 12 consecutive chars of the value. */
const windows = Array.from({ length: SECRET.length - 11 }, (_, i) => SECRET.slice(i, i + 12))
const shows = (text: string) => windows.some((w) => text.includes(w))

/** What a reader recovers from a row: base64 runs decoded (then form-decoded), od -c's chars, od -b's octal bytes. */
function recovered(row: string): string[] {
  const out: string[] = []
  for (const run of row.match(/[A-Za-z0-9+/_-]{16,}={0,2}/g) ?? []) {
    const text = Buffer.from(run, 'base64').toString('latin1')
    out.push(text)
    try { out.push(decodeURIComponent(text.replace(/\+/g, ' '))) } catch { /* not percent-encoded */ }
  }
  if (/^[0-7]{7}( {3}.)+$/.test(row)) out.push(row.slice(7).replace(/ {3}(.)/g, '$1'))
  if (/^[0-7]{7}( [0-7]{3})+$/.test(row)) out.push(String.fromCharCode(...row.slice(8).split(' ').map((o) => parseInt(o, 8))))
  return out
}

let dir: string
let engine: Engine
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ak-review2-mask-'))
  const config = testConfig(dir, { WORKFLOW_PLUGINS_PATHS: [TEST_PLUGINS, resolve(import.meta.dir, 'fixtures/plugins/review2')].join(',') })
  engine = await createEngine({ config, secrets: { resolve: async (names) => Object.fromEntries(names.map((n) => [n, SECRET])) } })
})
afterAll(async () => { await engine?.shutdown({ graceMs: 0 }); rmSync(dir, { recursive: true, force: true }) })

describe('review 2: a secret logged by accident in a stacked or dumped form is masked', () => {
  it('a base64 form body, od -c and od -b rows do not give the value back', async () => {
    const yaml = 'id: stacked\nsecrets: [TOKEN]\ntasks:\n  - id: dump\n    type: review2/leaky-stacked.dump\n    inputs: { token: "{{ secrets.TOKEN }}" }\n'
    const ex = await engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
    expect((await engine.waitFor(ex.id)).state).toBe('SUCCESS')
    const rows = (await engine.store.logs.list({ executionId: ex.id, limit: 1000 })).items.map((l) => l.message)
    // The plugin logged all three (the rows are there, masked or not).
    expect(rows.filter((m) => m.startsWith('event:') || /^[0-7]{7} /.test(m)).length).toBeGreaterThanOrEqual(7)
    const leaks = rows.filter((m) => shows(m) || recovered(m).some(shows))
    expect(leaks).toEqual([])
  }, 60_000)
})
