/**
 * Review finding 5 through the real engine, with the variants the review did not list: a hexdump whose first row
 * ends one byte into the secret, util.inspect's multi-line typed array, a Buffer Bun truncates after 6 of the
 * secret's bytes, a typed array through JSON, one byte per line, dashed hex, a Basic header folded one char in and
 * wrapped again, and byte arrays in the task's output. The plugin is test/fixtures/plugins/accidents/byte-dumps.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createEngine } from '../actors/engine.ts'
import type { Engine } from '../actors/engine-types.ts'
import { testConfig, TEST_PLUGINS, workflow } from './helpers/engine.ts'

const SECRET = 'rk_test_9Zq2LmX7vBn4Kp0sTy6Wd3Hf'
const bytes = [...Buffer.from(SECRET)]
/** Four consecutive bytes of the secret, anywhere in it, in every spelling the plugin uses. */
const needles: string[] = []
for (let i = 0; i + 4 <= bytes.length; i++) {
  const w = bytes.slice(i, i + 4)
  const hex = w.map((b) => b.toString(16).padStart(2, '0'))
  needles.push(SECRET.slice(i, i + 4), hex.join(' '), hex.join('-').toUpperCase(), w.join(', '), w.join(','), w.join(',\n  '))
}

let dir: string
let engine: Engine
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ak-mask-accidents-'))
  const config = testConfig(dir, { WORKFLOW_PLUGINS_PATHS: [TEST_PLUGINS, resolve(import.meta.dir, 'fixtures/plugins/accidents')].join(',') })
  engine = await createEngine({ config, secrets: { resolve: async (names) => Object.fromEntries(names.map((n) => [n, SECRET])) } })
})
afterAll(async () => { await engine?.shutdown({ graceMs: 0 }); rmSync(dir, { recursive: true, force: true }) })

describe('a secret printed and returned as bytes, variants nobody listed (review finding 5)', () => {
  it('reaches no log row and no output in any of them', async () => {
    const yaml = 'id: bytes\nsecrets: [TOKEN]\ntasks:\n  - id: dump\n    type: accidents/byte-dumps.run\n    inputs: { token: "{{ secrets.TOKEN }}" }\n'
    const ex = await engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
    expect((await engine.waitFor(ex.id)).state).toBe('SUCCESS')
    const rows = (await engine.store.logs.list({ executionId: ex.id, limit: 1000 })).items.map((l) => l.message)
    const log = rows.join('\n')
    // The plugin did print every dump (so the search below is not vacuous), and masking left its mark on each.
    for (const shape of ['00000000  50 4f 53 54', 'Uint8Array(32)', '<Buffer ee ee', '{"raw":{"0":', 'Authorization: Basic ']) expect(log).toContain(shape)
    expect(rows.filter((r) => r.includes('***')).length).toBeGreaterThanOrEqual(8)
    expect(needles.filter((n) => log.includes(n))).toEqual([])
    // The first row shows the one byte of the secret it ends with (`72`, `r`), no more; the Basic header its first char.
    const output = JSON.stringify((await engine.store.executions.taskRuns(ex.id))[0]!.output)
    expect(output).toBe(JSON.stringify({ bytes: ['***'], buffer: { type: 'Buffer', data: ['***'] }, typed: Object.fromEntries(bytes.map((_, i) => [i, '***'])) }))
  }, 60_000)
})
