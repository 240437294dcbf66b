/**
 * Review 2 attack, class "plugin-controlled work done by the engine outside the sandbox" (schemas): a manifest's
 * output schema is compiled by Ajv, and every `pattern` becomes a JavaScript RegExp that the engine runs on the
 * plugin's output, synchronously, on the worker thread that hosts the execution — after the sandbox has ended, so
 * outside the task's timeout, its CPU limit and its cgroup. A hostile plugin declares
 * `pattern: '^(.*?,){30}X'` and returns `'a,' × 5000`: the regex backtracks polynomially (JSC's backtracking
 * cut-off only catches exponential cases), so the worker spins for many minutes. Every other execution hosted on
 * that worker stalls with it, the task's own timeout never fires, and cancel never takes effect (the worker cannot
 * read its inbox). One plugin, one task, and the engine's executions stop.
 *
 * Same class, same code path: an input schema's `pattern` runs on the task's rendered input, which an anonymous
 * webhook caller with the URL fills.
 *
 * Recommended fix: never run a manifest's regex with a backtracking engine on the engine's threads. Either Ajv's
 * `code.regExp` option with a linear-time engine (re2 / re2-wasm; Ajv documents this option for exactly this), or
 * refuse at load any `pattern` (and `patternProperties` key) that is not provably linear, or validate in the
 * sandboxed process / a throwaway thread with a deadline; and bound the length a `pattern` is run on.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { EFFECTS_DIR } from '../helpers/engine.ts'
import { removeEngineLeftovers } from '../fixtures/review2/cleanup.ts'

const CHILD = resolve(import.meta.dir, '../fixtures/review2/schema-redos-child.ts')
const PLUGINS = resolve(import.meta.dir, '../fixtures/plugins/review2')
const root = resolve(import.meta.dir, '../..')
const dir = mkdtempSync(join(tmpdir(), 'ak-review2-redos-'))
const procs: ReturnType<typeof Bun.spawn>[] = []
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL')
    await p.exited
    // The child's marker file (effectKey names it after the child's pid).
    removeEngineLeftovers()
    for (const f of readdirSync(EFFECTS_DIR)) if (f.startsWith(`review2-redos-${p.pid}-`)) rmSync(join(EFFECTS_DIR, f), { force: true })
  }
  rmSync(dir, { recursive: true, force: true })
})

describe('review 2: a plugin\'s schema pattern cannot stall the engine', () => {
  it('an output matching a slow pattern: the other execution on the worker still runs, and cancel still works', async () => {
    const child = Bun.spawn(['bun', CHILD, dir, PLUGINS], { cwd: root, stdout: 'pipe', stderr: 'pipe' })
    procs.push(child)
    const events: Record<string, unknown>[] = []
    void (async () => {
      let buf = ''
      for await (const chunk of child.stdout) {
        buf += new TextDecoder().decode(chunk)
        let i
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i); buf = buf.slice(i + 1)
          try { events.push(JSON.parse(line)) } catch { /* an engine log line */ }
        }
      }
    })()
    const has = (pred: (e: Record<string, unknown>) => boolean) => events.some(pred)
    const end = Date.now() + 30_000
    while (Date.now() < end && !(has((e) => e.done === 'other') && has((e) => e.done === 'hostile'))) {
      if (child.exitCode !== null) break
      await Bun.sleep(100)
    }
    // The plugin returned and the engine started the other execution (the attack needs nothing more than that).
    expect(events.find((e) => 'returned' in e)).toEqual({ returned: true })
    expect(has((e) => e.started === 'other')).toBe(true)
    // An unrelated one-task execution finishes, and the hostile one ends (failed or cancelled) instead of hanging.
    expect(events.find((e) => e.done === 'other')).toMatchObject({ state: 'SUCCESS' })
    expect(['FAILED', 'CANCELLED']).toContain(String(events.find((e) => e.done === 'hostile')?.state))
  }, 60_000)
})
