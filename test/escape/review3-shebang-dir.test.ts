/**
 * Review 3 attack, class "a path the engine grants because the plugin named it, never checked to be what it is
 * granted as". An exec plugin's entry is granted read + execute, and so is the interpreter its `#!` line names, with
 * its libraries (grants.ts shebangInterpreter + executableRules). For `#!…/env X` the engine also grants X, resolved
 * by resolveExecutable, which for an absolute X is a bare realpath: no check that X is a file, let alone a program.
 * `launchPrograms` (the fix for a `run` entry swapped for a symlink to `/`) does not cover this path, and the pins
 * only make sure the launcher applies the rule to the inode the engine saw: here the engine itself chose `/`.
 *
 * The hostile plugin author ships `run.sh` whose first line is `#!<plugin dir>/env /`, and an `env` of their own (a
 * bash script) in the plugin directory. The engine grants READ|EXECUTE on `/` (every file on the host, beneath the
 * Landlock rule) with no manifest line, no grant and no policy check; the kernel runs the plugin's `env`, which reads
 * the engine's key file. Variant: the argument is `/usr`, and the plugin runs programs it never declared (`id`).
 * (A file as the argument, e.g. the key, is refused by the reachability check of a root engine: it is not executable.)
 *
 * Suggested fix: an interpreter (and the `env` argument) is granted only when it resolves to a regular executable
 * file (the launchPrograms check), pinned; better, only the interpreter the kernel will run (`env`'s argument is
 * a program looked up in PATH, never an absolute path the plugin chose), and an interpreter inside the plugin
 * directory gets no more than the entry does. Read the `#!` line from the pinned inode (an fd from the pin), not
 * by name twice after the pin was taken.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import { startEngineFixture, KEY_SECRET, type EngineFixture } from './engine-fixture.ts'
import { LAUNCHERS, runAttack } from './harness.ts'

let engine: EngineFixture
let root: string

/** A plugin directory whose exec entry names its own `env` as interpreter, with `arg` after it. */
function shebangPlugin(name: string, arg: string) {
  const dir = join(root, name)
  mkdirSync(dir)
  chmodSync(dir, 0o755)
  writeFileSync(join(dir, 'plugin.yaml'), `namespace: hostile\nname: ${name}\nversion: 1.0.0\nruntime: exec\nentry: run.sh\nactions:\n  - name: read\n`)
  writeFileSync(join(dir, 'run.sh'), `#!${dir}/env ${arg}\n`, { mode: 0o755 })
  // The plugin's own "env": the kernel runs it as run.sh's interpreter; it reads the key file and returns it.
  writeFileSync(join(dir, 'env'), [
    '#!/bin/bash',
    'read -r invocation',
    `data=$(< ${engine.keyPath}) || data=DENIED`,
    `printf '{"ok":true,"output":{"data":"%s"}}' "$data" > "$AUTOKESTRA_RESULT_FILE"`,
    '',
  ].join('\n'), { mode: 0o755 })
  return loadManifest(dir)
}

describe('review 3: a `#!` line does not grant a directory', () => {
  beforeAll(() => {
    engine = startEngineFixture()
    root = mkdtempSync(join(tmpdir(), 'ak-review3-shebang-'))
    chmodSync(root, 0o755)
  })
  afterAll(() => {
    engine?.close()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  for (const launcher of LAUNCHERS) {
    it(`an entry "#!<plugin>/env /" gets no read on the whole host (${launcher})`, async () => {
      const plugin = shebangPlugin(`slash-${launcher}`, '/')
      const run = await runAttack(plugin, 'read', {}, { launcher, permissions: {} })
      expect(run.text).not.toContain(KEY_SECRET)
    }, 60_000)

    it(`an entry "#!<plugin>/env /usr" runs no undeclared program (${launcher})`, async () => {
      const plugin = shebangPlugin(`usr-${launcher}`, '/usr')
      // READ|EXECUTE on /usr: bash, its libraries (/lib is usr/lib) and every program there, none of them declared.
      writeFileSync(join(plugin.dir, 'env'), [
        '#!/usr/bin/bash',
        'read -r invocation',
        'data=$(/usr/bin/id 2>&1) || data=DENIED',
        `printf '{"ok":true,"output":{"data":"%s"}}' "$data" > "$AUTOKESTRA_RESULT_FILE"`,
        '',
      ].join('\n'), { mode: 0o755 })
      const run = await runAttack(plugin, 'read', {}, { launcher, permissions: {} })
      expect(run.text).not.toContain('uid=')
    }, 60_000)
  }
})
