/**
 * Review 3 attack, class "a path checked, then used by name later" (the library cache). sharedLibraries caches the
 * library list of an executable by the executable's name and identity (dev, inode, mtime, size), and each launch then
 * pins every listed library by resolving its *name* again (pinRules → pinCanonical: realpath now, pin whatever stands
 * there). Two things the plugin's owner controls make that grant `/`:
 * - the identity is forgeable: the file rewritten in place keeps its inode, a same-size rewrite keeps its size, and
 *   the owner sets mtime back (utimes); the cache then hands the old list for new content;
 * - a listed library's path is not part of the key: replaced by a symlink to `/` after the list was made, it is
 *   "pinned" as `/` at the next launch (canonical path `/`, inode of `/`), which the launcher verifies and grants
 *   READ|EXECUTE.
 *
 * Here, deterministically: an exec plugin (an ELF) whose entry needs `libx.so` through RUNPATH `$ORIGIN/a` runs once
 * (its list, with <dir>/a/libx.so, is cached). Its owner then replaces `a/libx.so` with a symlink to `/` and rewrites
 * the entry in place with a program of the same size that needs no libx and reads the engine's key file, setting
 * mtime back. The next launch grants `/`. (Without the in-place rewrite, a `run` program that is never executed by
 * the plugin does the same: its libraries only need to be listed once.)
 *
 * Suggested fix: a library path is granted as the loader found it: pin each library when the list is made (canonical
 * path + inode), cache the pins with the list, and refuse PATH_CHANGED when the name no longer leads to that inode
 * (never re-resolve a rule to a new target); require each to be a regular file. Key the cache by content the owner
 * cannot forge (ctime is set by the kernel on every change; better, a hash of the file, or no cache for files the
 * engine does not own).
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { startEngineFixture, KEY_SECRET, type EngineFixture } from './engine-fixture.ts'
import { LAUNCHERS, runAttack } from './harness.ts'
import { cc, describeWithCC, RESULT } from '../helpers/elf-fixtures.ts'

const MTIME = 1_700_000_000
let engine: EngineFixture
let root: string


/** Builds the plugin in `dir`: the entry (v1, needs libx) and, aside, v2 (reads the key), both padded to one size. */
function build(dir: string): { v2: Buffer } {
  const a = join(dir, 'a')
  mkdirSync(a); chmodSync(a, 0o755)
  writeFileSync(join(root, 'lib.c'), 'int r3_lib(void) { return 0; }\n')
  writeFileSync(join(root, 'v1.c'), `#include <stdio.h>
#include <stdlib.h>
int r3_lib(void);
int main(void) { ${RESULT('"v1"')} return r3_lib(); }
`)
  writeFileSync(join(root, 'v2.c'), `#include <stdio.h>
#include <stdlib.h>
int main(void) {
  char buf[256] = {0};
  FILE *f = fopen(${JSON.stringify(engine.keyPath)}, "r");
  if (f) { fread(buf, 1, 255, f); fclose(f); } else snprintf(buf, sizeof buf, "DENIED");
  ${RESULT('buf')}
  return 0;
}
`)
  cc(['-shared', '-fPIC', '-o', join(a, 'libx.so'), '-Wl,-soname,libx.so', join(root, 'lib.c')])
  cc(['-o', join(dir, 'entry'), join(root, 'v1.c'), `-L${a}`, '-lx', '-Wl,-rpath,$ORIGIN/a', '-Wl,--disable-new-dtags'])
  cc(['-o', join(root, 'v2'), join(root, 'v2.c')])
  const v1 = readFileSync(join(dir, 'entry')), v2 = readFileSync(join(root, 'v2'))
  const size = Math.max(v1.length, v2.length)
  // Trailing bytes past the ELF's segments are never read: both programs still run.
  writeFileSync(join(dir, 'entry'), Buffer.concat([v1, Buffer.alloc(size - v1.length)]))
  chmodSync(join(dir, 'entry'), 0o755); chmodSync(join(a, 'libx.so'), 0o755)
  utimesSync(join(dir, 'entry'), MTIME, MTIME)
  return { v2: Buffer.concat([v2, Buffer.alloc(size - v2.length)]) }
}

describeWithCC('review 3: a cached library list is not granted by name', () => {
  beforeAll(() => {
    engine = startEngineFixture()
    root = mkdtempSync(join(tmpdir(), 'ak-review3-libcache-'))
    chmodSync(root, 0o755)
  })
  afterAll(() => {
    engine?.close()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  for (const launcher of LAUNCHERS) {
    it(`a listed library swapped for a symlink to / is not granted as / (${launcher})`, async () => {
      const dir = join(root, `plugin-${launcher}`)
      mkdirSync(dir); chmodSync(dir, 0o755)
      const { v2 } = build(dir)
      writeFileSync(join(dir, 'plugin.yaml'), `namespace: hostile\nname: libcache-${launcher}\nversion: 1.0.0\nruntime: exec\nentry: entry\nactions:\n  - name: read\n`)
      const plugin: LoadedPlugin = loadManifest(dir)
      const first = await runAttack(plugin, 'read', {}, { launcher, permissions: {} })
      expect(first.outcome).toMatchObject({ ok: true, output: { data: 'v1' } })
      // The owner: the library becomes a symlink to /, the entry is rewritten in place, same size, mtime set back.
      const entry = join(dir, 'entry')
      const ino = statSync(entry).ino
      rmSync(join(dir, 'a', 'libx.so'))
      symlinkSync('/', join(dir, 'a', 'libx.so'))
      writeFileSync(entry, v2)
      utimesSync(entry, MTIME, MTIME)
      expect(statSync(entry).ino).toBe(ino)
      const second = await runAttack(plugin, 'read', {}, { launcher, permissions: {} })
      expect(second.text).not.toContain(KEY_SECRET)
    }, 60_000)
  }
})
