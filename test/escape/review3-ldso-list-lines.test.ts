/**
 * Review 3 attack, class "a path the engine grants because the plugin named it, never checked to be what it is
 * granted as" (the variant through the dynamic loader). An exec plugin that is an ELF gets read + execute on every
 * library it loads: grants.ts sharedLibraries runs `ld.so --list <entry>` and takes, from each line of its output,
 * the first word after `=>` or a leading word that starts with `/`, realpath()s it, and grants it (then pins it:
 * the pin only makes sure the launcher applies the rule to the inode the engine chose). Nothing checks that the
 * path is a library, or even a file, and the lines are the plugin's to write: a DT_NEEDED name may hold a newline.
 *
 * The hostile plugin author links their entry against `<plugin dir>/a\n/. b.so` (a directory named "a\n" holding
 * ". b.so", both in the plugin directory; a real library, so the entry loads and runs). `ld.so --list` prints
 * "\t<plugin dir>/a\n/. b.so (0x…)": its second line, "/. b.so (0x…)", yields `/.`, realpath `/`, and the engine grants
 * READ|EXECUTE on the whole host with no manifest line, no grant and no policy check. The entry then reads the
 * engine's key file.
 *
 * Suggested fix: grant a library only when it is a regular file (as launchPrograms requires of a `run` program) and
 * parse `ld.so --list` strictly (one object per line, the exact "\tname => path (0xaddr)" / "\tpath (0xaddr)"
 * shapes, refusing names with control characters); better, take the loaded objects from the loader in a form the
 * plugin cannot inject into (LD_TRACE_LOADED_OBJECTS with a fixed format, or by reading DT_NEEDED and resolving it
 * ourselves), and never widen a rule to a directory from this path.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { startEngineFixture, KEY_SECRET, type EngineFixture } from './engine-fixture.ts'
import { LAUNCHERS, runAttack } from './harness.ts'
import { buildKeyReaderPlugin, describeWithCC } from '../helpers/elf-fixtures.ts'

let engine: EngineFixture
let root: string
let plugin: LoadedPlugin

describeWithCC('review 3: ld.so --list output does not grant a directory', () => {
  beforeAll(() => {
    engine = startEngineFixture()
    root = mkdtempSync(join(tmpdir(), 'ak-review3-ldso-'))
    chmodSync(root, 0o755)
    const dir = join(root, 'plugin')
    mkdirSync(dir); chmodSync(dir, 0o755)
    const weird = join(dir, 'a\n')
    mkdirSync(weird); chmodSync(weird, 0o755)
    const lib = join(weird, '. b.so')
    // The library's soname (the entry's DT_NEEDED) is its absolute path, newline included.
    buildKeyReaderPlugin(root, dir, lib, engine.keyPath, 'ldso-lines')
    plugin = loadManifest(dir)
  })
  afterAll(() => {
    engine?.close()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  for (const launcher of LAUNCHERS) {
    it(`an ELF entry whose DT_NEEDED holds "\\n/. " gets no read on the whole host (${launcher})`, async () => {
      const run = await runAttack(plugin, 'read', {}, { launcher, permissions: {} })
      // Its DT_NEEDED name is not plain: nothing of the loader's listing is granted, the launch is refused (it ran,
      // and read the key, before the fix; test/escape/elf-dynamic-names.test.ts has the class and a plain control).
      expect(run.outcome).toMatchObject({ ok: false, error: { code: 'UNSAFE_EXECUTABLE' } })
      expect(run.text).not.toContain(KEY_SECRET)
    }, 60_000)
  }
})
