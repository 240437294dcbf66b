/**
 * Review 3 attack, class "a path checked, then used by name later" (inside the engine, between its own check and its
 * own pin). A `run` program is checked at launch by `launchPrograms` (resolved, then required to be a regular
 * executable file: the fix for a `run` entry swapped for a symlink to `/`), and pinned later, in computeGrants, by
 * `pinRules` → `pinCanonical`, which resolves the name *again* (realpath, following symlinks) and pins whatever it
 * finds then. Between the two: the uid lease, the reachability check, the cgroups, and an `ld.so --list` of the
 * program (executableRules → sharedLibraries, a process spawn): milliseconds. If the path is a symlink to `/` at the
 * second look, the rule is `/` with the pin of `/`, which the launcher then verifies and grants: READ|EXECUTE on
 * the whole host. The pin only guarantees that the launcher applies what the engine resolved the second time.
 *
 * Who: whoever can write the directory of a granted `run` program (a tool in a plugin's or a team's own directory;
 * the operator allowed `run: [<that path>]`). Here a flipper swaps `bin/tool` atomically (rename) between a
 * regular executable and a symlink to `/`, while a Bun plugin with `run: [<bin/tool>]` tries to read the engine's
 * key file, attempt after attempt (spares included: each is prepared the same way). Before the fix of review 2, a
 * standing symlink did this; now one attempt in a few does.
 *
 * Suggested fix: pin once, where it is checked: launchPrograms returns the PinnedPath (canonical path + inode from
 * one lstat of the resolved name, or better from an fd: open O_PATH|O_NOFOLLOW, fstat, check S_ISREG and the mode
 * on that), and computeGrants uses that pin as is (never re-resolving a rule that already has an identity); the
 * same for interpreters and libraries (pinRules should refuse when the canonical path it finds differs from the
 * path it was given, as pinGrantPaths does, instead of pinning the new target).
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { startEngineFixture, KEY_SECRET, type EngineFixture } from './engine-fixture.ts'
import { LAUNCHERS, runAttack } from './harness.ts'

const SDK = resolve(import.meta.dir, '../../sandbox/sdk/index.ts')
let engine: EngineFixture
let root: string
let plugin: LoadedPlugin
let tool: string

const PLUGIN_TS = `import { readFileSync } from 'node:fs'
import { defineAction, definePlugin } from ${JSON.stringify(SDK)}
export default definePlugin({ actions: { read: defineAction<{ path: string }>(({ path }) => {
  try { return { content: readFileSync(path, 'utf8') } } catch (e) { return { error: (e as NodeJS.ErrnoException).code ?? String(e) } }
}) } })
`

/** Swaps `path` between a hard link of `master` (a regular executable) and a symlink to `/`, atomically, forever. */
const FLIPPER = (path: string, master: string) => `
import { linkSync, renameSync, rmSync, symlinkSync } from 'node:fs'
const tmpF = ${JSON.stringify(`${path}.f`)}, tmpL = ${JSON.stringify(`${path}.l`)}
for (let i = 0; ; i++) {
  try { rmSync(tmpF, { force: true }); linkSync(${JSON.stringify(master)}, tmpF); renameSync(tmpF, ${JSON.stringify(path)}) } catch {}
  Bun.sleepSync(1 + (i % 3))
  try { rmSync(tmpL, { force: true }); symlinkSync('/', tmpL); renameSync(tmpL, ${JSON.stringify(path)}) } catch {}
  Bun.sleepSync(1 + (i % 4))
}
`

describe.if(process.getuid?.() === 0)('review 3: a run program is pinned as it was checked', () => {
  beforeAll(() => {
    engine = startEngineFixture()
    root = mkdtempSync(join(tmpdir(), 'ak-review3-runrace-'))
    chmodSync(root, 0o755)
    const dir = join(root, 'plugin')
    mkdirSync(dir); chmodSync(dir, 0o755)
    writeFileSync(join(dir, 'plugin.yaml'), 'namespace: hostile\nname: run-race\nversion: 1.0.0\nruntime: bun\nentry: index.ts\nactions:\n  - name: read\n')
    writeFileSync(join(dir, 'index.ts'), PLUGIN_TS)
    const bin = join(root, 'bin')
    mkdirSync(bin); chmodSync(bin, 0o755)
    copyFileSync('/bin/true', join(bin, 'master'))
    chmodSync(join(bin, 'master'), 0o755)
    tool = join(bin, 'tool')
    copyFileSync('/bin/true', tool); chmodSync(tool, 0o755)
    plugin = loadManifest(dir)
  })
  afterAll(() => {
    engine?.close()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  for (const launcher of LAUNCHERS) {
    it(`a run program flipping to a symlink to / is never granted as / (${launcher})`, async () => {
      const permissions = { run: [tool] }
      // The control, nothing flipping: the key is out of reach.
      const control = await runAttack(plugin, 'read', { path: engine.keyPath }, { launcher, permissions })
      expect(control.text).not.toContain(KEY_SECRET)
      const script = join(root, `flip-${launcher}.ts`)
      writeFileSync(script, FLIPPER(tool, join(root, 'bin', 'master')))
      const flipper = Bun.spawn(['bun', script], { stdout: 'ignore', stderr: 'ignore' })
      const leaks: string[] = []
      const outcomes = new Map<string, number>()
      try {
        const end = Date.now() + 40_000
        for (let i = 0; i < 120 && Date.now() < end && leaks.length === 0; i++) {
          const run = await runAttack(plugin, 'read', { path: engine.keyPath }, { launcher, permissions })
          const code = run.outcome.ok ? 'ok' : run.outcome.error.code
          outcomes.set(code, (outcomes.get(code) ?? 0) + 1)
          if (run.text.includes(KEY_SECRET)) leaks.push(run.text)
        }
      } finally {
        flipper.kill('SIGKILL')
        await flipper.exited
      }
      // Each attempt either runs without the key or is refused (PATH_CHANGED): never the key.
      expect({ leaks, outcomes: Object.fromEntries(outcomes) }).toEqual({ leaks: [], outcomes: expect.anything() })
    }, 90_000)
  }
})
