/**
 * Review 4 attack, class "a path the engine grants because the plugin named it" (the dynamic-loader variant, after
 * review 3's fix). The strict `ld.so --list` parse (exec-files.ts LDSO_LINE) only checks each line's shape, but the
 * lines are still the plugin's to write: an absolute DT_NEEDED name is printed verbatim, newlines included, so a name
 * can hold a whole line in the exact "\t/path (0xaddr)" shape. pinFile then only asks for a regular file, and any
 * regular file is a "library".
 *
 * The hostile plugin author links their entry against `<plugin dir>/A\n\t<key file> (0x1)\n/b.so` (directories named
 * "A\n\t", …, "secret.key (0x1)\n" inside the plugin directory, holding a real library `b.so`, so the entry loads and
 * runs). `ld.so --list` prints "\t<plugin dir>/A", "\t<key file> (0x1)", "/b.so (0x…)": the middle line passes the
 * strict parse, the key file is a regular file, and the engine grants READ|EXECUTE on the engine's key file with no
 * manifest line, no grant and no policy check. The entry reads it.
 *
 * Suggested fix: do not take paths from text the file's author writes. Read DT_NEEDED (and RPATH/RUNPATH) from the
 * ELF and resolve them ourselves, or at the least refuse the whole list (grant nothing, fail the launch with a stable
 * code) when any DT_NEEDED name of the entry or of a library it loads holds a control character (checked in the
 * ELF's dynamic string table, not in the loader's output); and require a granted library to be an ELF shared
 * object (\x7fELF header, ET_DYN), not merely a regular file.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { startEngineFixture, KEY_SECRET, type EngineFixture } from './engine-fixture.ts'
import { LAUNCHERS, runAttack } from './harness.ts'
import { buildKeyReaderPlugin, describeWithCC } from '../helpers/elf-fixtures.ts'

let engine: EngineFixture
let root: string
let plugin: LoadedPlugin

describeWithCC('review 4: a DT_NEEDED name cannot inject a well-formed ld.so --list line', () => {
  beforeAll(() => {
    engine = startEngineFixture()
    root = mkdtempSync(join(tmpdir(), 'ak-review4-ldso-'))
    chmodSync(root, 0o755)
    const dir = join(root, 'plugin')
    mkdirSync(dir); chmodSync(dir, 0o755)
    // The whole injected line, in the exact shape LDSO_LINE accepts, naming the engine's key file.
    const lib = `${dir}/A\n\t${engine.keyPath} (0x1)\n/b.so`
    mkdirSync(dirname(lib), { recursive: true, mode: 0o755 })
    Bun.spawnSync(['chmod', '-R', 'a+rx', dir])
    buildKeyReaderPlugin(root, dir, lib, engine.keyPath, 'ldso-inject')
    plugin = loadManifest(dir)
  })
  afterAll(() => {
    engine?.close()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  for (const launcher of LAUNCHERS) {
    it(`an ELF entry whose DT_NEEDED holds "\\n\\t<key file> (0x1)\\n" gets no read on the key file (${launcher})`, async () => {
      const run = await runAttack(plugin, 'read', {}, { launcher, permissions: {} })
      // Its DT_NEEDED name is not plain: nothing of the loader's listing is granted, the launch is refused (it ran,
      // and read the key, before the fix; test/escape/elf-dynamic-names.test.ts has the class and a plain control).
      expect(run.outcome).toMatchObject({ ok: false, error: { code: 'UNSAFE_EXECUTABLE' } })
      expect(run.text).not.toContain(KEY_SECRET)
    }, 60_000)
  }
})
