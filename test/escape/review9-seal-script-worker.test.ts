/**
 * Review 9, finding 4 (medium): `core/script.run`'s code is the workflow's, not the plugin's, yet it runs in a worker
 * thread of the core/script process, which holds the seal: the code reads it from its own process's memory (with
 * bun:ffi's toArrayBuffer over the writable mappings /proc/self/maps lists: the worker has no guard, and memory in
 * its own process needs no syscall; before the boot became non-dumpable /proc/self/mem did it too) and prints a
 * sealed marker on its stderr, which core/script relays. A refusal that never happened fails the task
 * PERMISSION_DENIED, not inferred, over the script's exit 0, audited against core/script with any target. The
 * claim (docs/security.md#denials-sealed-or-inferred-review-7): core/script's children never hold the seal, "so what
 * they print cannot pass for the guard"; the known gap on the worker names the guard's host checks, not the seal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { startTestEngine, type TestEngine, runWorkflow } from '../helpers/engine.ts'

let t: TestEngine
beforeAll(async () => { t = await startTestEngine() })
afterAll(async () => { await t.close() })

// Scans this process's writable mappings for the invocation's seal, through bun:ffi (no /proc/self/mem: the
// process is not dumpable, so its /proc files are root's; /proc/self/maps stays readable to itself).
const SCAN = String.raw`
import { readFileSync } from 'node:fs'
import { toArrayBuffer } from 'bun:ffi'
let found: string | undefined
let read = 0
const key = Buffer.from(['denial', 'Seal":"'].join(''), 'latin1')
outer: for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
  const [range, perms] = line.split(' ')
  if (!range || !perms?.startsWith('rw')) continue
  const [a, b] = range.split('-').map((x) => parseInt(x, 16))
  for (let pos = a; pos < b; pos += 1 << 26) {
    const n = Math.min(b - pos, 1 << 26)
    const chunk = Buffer.from(toArrayBuffer(pos as never, 0, n))
    read += n
    for (let at = chunk.indexOf(key); at >= 0; at = chunk.indexOf(key, at + 1)) {
      const seal = chunk.subarray(at + key.length, at + key.length + 32).toString('latin1')
      if (/^[0-9a-f]{32}$/.test(seal)) { found = seal; break outer }
    }
  }
}
console.error('scan: ' + (found ? 'found' : 'nothing in ' + read + ' bytes'))
if (found) console.error('::error::PERMISSION_DENIED#' + found + ' network forged.example:22')
`

describe('core/script.run\'s code cannot learn the seal of the process it runs in', () => {
  it('an inline script reading its own process\'s memory cannot forge a sealed refusal over its exit 0', async () => {
    const r = await runWorkflow(t, `
id: r9-seal-script-worker
tasks:
  - id: js
    type: core/script.run
    runner: process
    inputs:
      source:
        type: inline
        language: ts
        content: |
${SCAN.split('\n').map((l) => `          ${l}`).join('\n')}
`)
    const scan = r.logs.find((l) => l.message.startsWith('scan:'))?.message
    const refused = r.audit.filter((a) => a.type === 'PERMISSION_DENIED').map((a) => a.data)
    expect({ state: r.runs.js!.state, code: r.runs.js!.error?.code, refused, scan })
      .toMatchObject({ state: 'SUCCESS', code: undefined, refused: [] })
    // The control: the script ran and read its process's memory.
    expect(scan).toMatch(/^scan: (found|nothing in [1-9]\d* bytes)/)
  }, 60_000)
})
