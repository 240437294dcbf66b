/**
 * Variants of review 3's class "a path the engine grants because the plugin named it, never checked to be what it is
 * granted as", not in the review:
 * - the loader's list, injected in the *exact* shape ld.so prints: a DT_NEEDED name `<dir>/a\n\tx => /. (0x1)\n\tq`
 *   prints a line "\tx => /. (0x1)" that a strict parser accepts; only the check that a listed path is a regular
 *   library file keeps `/` out (before the fix: READ|EXECUTE on `/`);
 * - `#!` forms: the engine's own `env` with an absolute path or a directory as its argument, `env -S`, an
 *   interpreter that is a symlink to a directory: no directory is ever granted from a `#!` line, and `env -S name`
 *   grants the program found in the engine's PATH, nothing the plugin chose.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import { pinCanonical } from '../../sandbox/plugins/path-pin.ts'
import { shebangInterpreter } from '../../sandbox/process/exec-files.ts'
import { parseLdsoList } from '../helpers/ldso-oracle.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { startEngineFixture, KEY_SECRET, type EngineFixture } from './engine-fixture.ts'
import { LAUNCHERS, runAttack } from './harness.ts'
import { buildKeyReaderPlugin, describeWithCC } from '../helpers/elf-fixtures.ts'

let engine: EngineFixture
let root: string

beforeAll(() => {
  engine = startEngineFixture()
  root = mkdtempSync(join(tmpdir(), 'ak-review3-variants-'))
  chmodSync(root, 0o755)
})
afterAll(() => {
  engine?.close()
  if (root) rmSync(root, { recursive: true, force: true })
})

describeWithCC('review 3 variant: an ld.so line injected in the exact shape grants no directory', () => {
  let plugin: LoadedPlugin
  beforeAll(() => {
    const dir = join(root, 'ldso-shape')
    mkdirSync(dir); chmodSync(dir, 0o755)
    // Two directory levels make the name: "<dir>/a\n\tx => " / ". (0x1)\n\tq".
    const d1 = join(dir, 'a\n\tx => ')
    mkdirSync(d1); chmodSync(d1, 0o755)
    const lib = join(d1, '. (0x1)\n\tq')
    buildKeyReaderPlugin(root, dir, lib, engine.keyPath, 'ldso-shape')
    plugin = loadManifest(dir)
  })

  it('the loader really prints the injected line in the shape the parser accepts (the attack is real)', () => {
    const out = Bun.spawnSync(['/lib64/ld-linux-x86-64.so.2', '--list', join(plugin.dir, 'entry')], { stdout: 'pipe' }).stdout.toString()
    expect(out.split('\n')).toContain('\tx => /. (0x1)')
    // The line's shape is exact: what keeps `/` out is that the engine takes no line its ELF files do not explain
    // (the DT_NEEDED name holding it is not plain: UNSAFE_EXECUTABLE), and, behind that, the shared-object check.
    expect(parseLdsoList(out)).toContain('/.')
  })

  for (const launcher of LAUNCHERS) {
    it(`an ELF entry whose DT_NEEDED prints "\\tx => /. (0x1)" gets no read on the whole host (${launcher})`, async () => {
      const run = await runAttack(plugin, 'read', {}, { launcher, permissions: {} })
      // Refused before it runs: its DT_NEEDED name is not plain (see review3-ldso-list-lines.test.ts).
      expect(run.outcome).toMatchObject({ ok: false, error: { code: 'UNSAFE_EXECUTABLE' } })
      expect(run.text).not.toContain(KEY_SECRET)
    }, 60_000)
  }
})

describe('review 3 variant: no `#!` form grants a directory or a program the plugin chose', () => {
  const env = realpathSync('/usr/bin/env')
  /** What the engine grants for an entry whose first line is `line` (as the pinned entry). */
  const interps = (name: string, line: string): string[] => {
    const file = join(root, name)
    writeFileSync(file, `${line}\n`, { mode: 0o755 })
    return shebangInterpreter(pinCanonical(file)!).map((p) => p.path)
  }

  it('the engine\'s env with a directory or an absolute path as its argument: env alone', () => {
    expect(interps('env-slash', '#!/usr/bin/env /')).toEqual([env])
    expect(interps('env-usr', '#!/usr/bin/env /usr/bin/..')).toEqual([env])
    expect(interps('env-abs', '#!/usr/bin/env /bin/bash')).toEqual([env])
    expect(interps('env-S-abs', '#!/usr/bin/env -S /usr -c x')).toEqual([env])
    expect(interps('env-S-joined', '#!/usr/bin/env -S/usr')).toEqual([env])
  })

  it('env -S name (and VAR=value before it) grants the program found in the engine\'s PATH', () => {
    const bash = realpathSync(Bun.which('bash', { PATH: '/usr/local/bin:/usr/bin:/bin' })!)
    expect(interps('env-S', '#!/usr/bin/env -S bash -e')).toEqual([env, bash])
    expect(interps('env-S-var', '#!/usr/bin/env -S A=1 bash')).toEqual([env, bash])
    expect(interps('env-plain', '#!/usr/bin/env bash')).toEqual([env, bash])
    // Without -S, "bash -e" is one word to env, which finds no such program: nothing beyond env.
    expect(interps('env-two-words', '#!/usr/bin/env bash -e')).toEqual([env])
  })

  it('an interpreter that is a directory, or a symlink to one, grants nothing', () => {
    const link = join(root, 'to-usr')
    symlinkSync('/usr', link)
    expect(statSync(link).isDirectory()).toBe(true)
    expect(interps('interp-link', `#!${link}`)).toEqual([])
    expect(interps('interp-root', '#!/')).toEqual([])
    expect(interps('interp-rel', '#!usr/bin/env bash')).toEqual([])
  })

  it('the plugin\'s own env gets no argument granted, a name included', () => {
    mkdirSync(join(root, 'own'))
    const own = join(root, 'own', 'env')
    writeFileSync(own, '#!/bin/sh\n', { mode: 0o755 })
    expect(interps('own-env-name', `#!${own} bash`)).toEqual([realpathSync(own)])
    expect(interps('own-env-slash', `#!${own} /`)).toEqual([realpathSync(own)])
  })
})
