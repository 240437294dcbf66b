/**
 * Review 7 of the in-engine library closure (sandbox/process/library-closure.ts, issue 10). A hostile plugin author
 * controls the plugin directory: its ELF files, their DT_NEEDED / RUNPATH / RPATH, symlinks, and files changing while
 * the engine looks.
 *
 * 1. "judged by one resolution, pinned by another" (FAILS while the hole exists). tryPath resolves a candidate
 *    (realpath), judges that canonical path (libraryPlaceProblem), then pinLibrary resolves the name AGAIN (a second
 *    realpath) and pins, reads and grants whatever that second resolution reached. A plugin that swaps (renameat2
 *    RENAME_EXCHANGE, in a loop) its own `libx.so` with a symlink to another plugin's shared library wins the window
 *    between the two: the other plugin's library is judged as `<plugin>/libx.so` and granted read + execute by its
 *    own canonical path, a pin that holds (pinRules and the launcher accept it) and is then cached for every later
 *    launch of that entry.
 * 2. "work not counted" (FAILS while the hole exists). MAX_PROBES counts stat calls, but a search directory seen
 *    before for this name is skipped without counting, and every RPATH up the loader chain is split and expanded
 *    again for each name: a chain of libraries each with an RPATH of a thousand copies of one directory makes every
 *    lookup cost depth × entries string operations, synchronously on the engine's thread.
 * 3. "a raw errno out of the closure" (FAILS while the hole exists): dirHere's statSync suppresses ENOENT only, so a
 *    search directory through a regular file, a symlink loop or a too-long name throws node's error (the task fails
 *    with code ENOTDIR); a plain plugin shipping a file named `tls` next to its library cannot start.
 * 4. "the executable is not known by its DT_SONAME" (FAILS, availability): glibc matches a needed name against the
 *    executable's soname too; the closure refuses what the loader runs.
 * 5. Defences that held (PASS): hwcaps symlinks out, FIFO candidates, /proc and $ORIGIN/.. names, cycles, depth,
 *    hostile headers, and the Landlock backstop for a library rewritten in place after the list was cached.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pinCanonical } from '../../sandbox/plugins/path-pin.ts'
import { assertPinHolds, sharedLibraries } from '../../sandbox/process/exec-files.ts'
import { AppError } from '../../runtime/errors.ts'
import { buildLibrary, buildProgram, cc, describeWithCC, RESULT } from '../helpers/elf-fixtures.ts'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import { runAttack } from './harness.ts'
import { craftElf } from '../helpers/elf-craft.ts'
import { readElfFile } from '../../sandbox/process/elf-dynamic.ts'

let root: string
const OTHER_SECRET = 'OTHER-PLUGIN-SECRET-7c1d'

beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'ak-review7-')))
  chmodSync(root, 0o755)
})
afterAll(() => { if (root) rmSync(root, { recursive: true, force: true }) })

/** The granted paths, or the refusal's code. */
function grants(exe: string, own: string): string[] | string {
  try {
    return sharedLibraries(pinCanonical(exe)!, own).map((p) => p.path)
  } catch (e) {
    if (e instanceof AppError) return e.code
    throw e
  }
}

/** An entry that needs libx.so and reports whether it could read `path` and find `needle` in it. */
const leakReader = (path: string, needle: string): string => `#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int x_fn(void);
int main(void) {
  static char buf[1 << 16];
  const char *r = "DENIED";
  FILE *f = fopen(${JSON.stringify(path)}, "r");
  if (f) { size_t n = fread(buf, 1, sizeof buf, f); fclose(f); r = memmem(buf, n, ${JSON.stringify(needle)}, ${needle.length}) ? "LEAKED" : "OPENED"; }
  ${RESULT('r')}
  return x_fn();
}
`

describeWithCC('review 7: a library judged by one resolution is pinned by another', () => {
  it('never grants another plugin\'s library through a symlink swapped in between the check and the pin', async () => {
    const other = join(root, 'other-plugin'), own = join(root, 'race-plugin'), work = join(root, 'race-work')
    mkdirSync(other, { mode: 0o755 }); mkdirSync(own, { mode: 0o755 }); mkdirSync(work, { mode: 0o755 })
    // Another plugin's private library (any ELF shared object outside this plugin's directory and the system's).
    const secret = join(other, 'libsecret.so')
    buildLibrary(work, secret, `const char other_secret[] = "${OTHER_SECRET}";\n`, { soname: 'libsecret.so' })
    buildLibrary(work, join(own, 'libx.so'), 'int x_fn(void) { return 0; }\n', { soname: 'libx.so' })
    buildProgram(work, join(own, 'entry'), leakReader(secret, OTHER_SECRET), [`-L${own}`, '-lx', '-Wl,-rpath,$ORIGIN'])
    writeFileSync(join(own, 'plugin.yaml'), 'namespace: hostile\nname: review7-race\nversion: 1.0.0\nruntime: exec\nentry: entry\nactions:\n  - name: read\n')
    Bun.spawnSync(['chmod', '-R', 'a+rX', other, own])
    symlinkSync(secret, join(own, 'alt'))
    writeFileSync(join(work, 'swap.c'), `#define _GNU_SOURCE
#include <stdio.h>
#include <fcntl.h>
int main(int argc, char **argv) {
  (void)argc;
  for (;;) if (renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) != 0) { perror("renameat2"); return 1; }
}
`)
    cc(['-O2', '-o', join(work, 'swap'), join(work, 'swap.c')])
    const plugin = loadManifest(own)
    // The other library must look old (ctime before the list started): wait until it does, then race.
    await Bun.sleep(120)
    const swapper = Bun.spawn([join(work, 'swap'), join(own, 'libx.so'), join(own, 'alt')], { stdout: 'ignore', stderr: 'pipe' })
    const entry = join(own, 'entry')
    const leaked: string[] = []
    let attempts = 0
    try {
      const deadline = Date.now() + 8000
      while (Date.now() < deadline && leaked.length === 0) {
        attempts++
        const g = grants(entry, own)
        if (typeof g === 'string') continue
        for (const p of g) {
          if (p === secret) {
            leaked.push(p)
            // The pin holds: pinRules (grants.ts) and the launcher would grant it read + execute.
            const pin = sharedLibraries(pinCanonical(entry)!, own).find((l) => l.path === secret)
            if (pin) assertPinHolds(pin, 'granted path')
          }
        }
        // Let the swapper run between attempts on a 2-core machine.
        if (attempts % 50 === 0) await Bun.sleep(1)
      }
    } finally {
      swapper.kill()
      await swapper.exited
    }
    expect(swapper.signalCode).not.toBeNull()
    // The plugin's directory as it was built (libx.so the library again), then a real launch: the list the engine
    // cached is what is granted.
    if (lstatSync(join(own, 'libx.so')).isSymbolicLink()) {
      renameSync(join(own, 'libx.so'), join(own, 'tmp')); renameSync(join(own, 'alt'), join(own, 'libx.so')); renameSync(join(own, 'tmp'), join(own, 'alt'))
    }
    await Bun.sleep(120)
    const run = await runAttack(plugin, 'read', {}, { launcher: 'native', permissions: {} })
    const o = run.outcome as { ok: boolean; output?: { data?: string }; error?: { code?: string } }
    // LEAKED: the sandboxed plugin read the other plugin's library, granted read + execute by the engine.
    expect({ attempts, leaked, seen: o.ok ? o.output?.data : o.error?.code }).toEqual({ attempts, leaked: [], seen: 'DENIED' })
  }, 60000)
})

/**
 * Builds, in `own`, an executable whose libraries form a chain `depth` deep, each with an RPATH of `copies` copies of
 * one absent directory, the last needing `names` names (symlinks to one leaf library). No compiler: crafted ELFs.
 */
function buildSlowChain(own: string, depth: number, copies: number, names: number): string {
  const junk = Array.from({ length: copies }, () => '/z').join(':')
  writeFileSync(join(own, 'entry'), craftElf({ type: 3, needed: ['libc0.so'], rpath: ['$ORIGIN'] }))
  chmodSync(join(own, 'entry'), 0o755)
  for (let i = 0; i < depth; i++) {
    const needed = i + 1 < depth ? [`libc${i + 1}.so`] : Array.from({ length: names }, (_, k) => `libn${k}.so`)
    writeFileSync(join(own, `libc${i}.so`), craftElf({ needed, rpath: [junk], soname: `libc${i}.so` }))
  }
  writeFileSync(join(own, 'libleaf.so'), craftElf({ soname: 'libleaf.so' }))
  for (let k = 0; k < names; k++) symlinkSync('libleaf.so', join(own, `libn${k}.so`))
  return join(own, 'entry')
}

/**
 * Builds, in `own`, an executable needing `objects` libraries, each needing `names` distinct names of about 4 KB,
 * every one `$ORIGIN/././…/d/../libleaf.so` (one leaf library): one probe each, a path walk of ~2000 components each.
 */
function buildLongNames(own: string, objects: number, names: number): string {
  mkdirSync(join(own, 'd'))
  const long = (k: number): string => {
    const b = k % 300, a = 1900 - 3 * b - Math.floor(k / 300) * 3
    return `$ORIGIN/${'./'.repeat(a)}${'d/../'.repeat(b)}libleaf.so`
  }
  writeFileSync(join(own, 'entry'), craftElf({ type: 3, needed: Array.from({ length: objects }, (_, i) => `$ORIGIN/libo${i}.so`) }))
  chmodSync(join(own, 'entry'), 0o755)
  for (let i = 0; i < objects; i++) {
    writeFileSync(join(own, `libo${i}.so`), craftElf({ needed: Array.from({ length: names }, (_, k) => long(i * names + k)), soname: `libo${i}.so` }))
  }
  writeFileSync(join(own, 'libleaf.so'), craftElf({ soname: 'libleaf.so' }))
  return join(own, 'entry')
}

/** Runs sharedLibraries on `entry` in a child Bun (what the engine does on its thread); whether it ended within `ms`. */
async function listWithin(entry: string, own: string, ms: number): Promise<{ finished: boolean; out: string }> {
  // Let every file's ctime be before the list starts (otherwise it is listed again: fine, but slower still).
  await Bun.sleep(120)
  const script = join(own, '..', `${Bun.hash(entry).toString(16)}.ts`)
  writeFileSync(script, `
import { sharedLibraries } from ${JSON.stringify(join(import.meta.dir, '../../sandbox/process/exec-files.ts'))}
import { pinCanonical } from ${JSON.stringify(join(import.meta.dir, '../../sandbox/plugins/path-pin.ts'))}
const t = performance.now()
let what = 'granted'
try { sharedLibraries(pinCanonical(${JSON.stringify(entry)})!, ${JSON.stringify(own)}) } catch (e) { what = (e as { code?: string }).code ?? String(e) }
console.log(JSON.stringify({ what, ms: Math.round(performance.now() - t), rssMb: Math.round(process.memoryUsage().rss / 1e6) }))
`)
  const child = Bun.spawn([process.execPath, script], { stdout: 'pipe', stderr: 'pipe' })
  const killer = setTimeout(() => child.kill(), ms)
  const out = await new Response(child.stdout).text()
  await child.exited
  clearTimeout(killer)
  return { finished: child.signalCode === null, out: out.trim().slice(0, 200) }
}

// The engine makes the list synchronously on its only thread: 5 s of it is an engine that answers nothing for 5 s
// (and a refusal is not cached: a plugin whose closure ends in a missing library costs it at every launch).
describe('review 7: the closure\'s work is bounded by what it does, not by what it stats', () => {
  it('resolves (or refuses) a chain of libraries with long repeated RPATHs within 5 s', async () => {
    const own = join(root, 'slow-rpath')
    mkdirSync(own, { mode: 0o755 })
    expect(await listWithin(buildSlowChain(own, 250, 1365, 10), own, 5000)).toMatchObject({ finished: true })
  }, 30000)

  it('resolves (or refuses) 32 000 names of 4 KB each within 5 s', async () => {
    const own = join(root, 'slow-names')
    mkdirSync(own, { mode: 0o755 })
    expect(await listWithin(buildLongNames(own, 64, 500), own, 5000)).toMatchObject({ finished: true })
  }, 30000)
})

/** A fresh directory under root for one case. */
const caseDir = (name: string): string => { const d = join(root, name); mkdirSync(d, { recursive: true, mode: 0o755 }); return d }

/** The library a refusal names (details.library), or what was granted. */
function refusedLibrary(exe: string, own: string): unknown {
  try {
    return sharedLibraries(pinCanonical(exe)!, own).map((p) => p.path)
  } catch (e) {
    if (e instanceof AppError) return (e.details as { library?: string } | undefined)?.library ?? e.code
    throw e
  }
}

describe('review 7: attacks the closure held against', () => {
  it('a hardware-capability subdirectory of its own directory that is a symlink out of it: refused, not granted', () => {
    const other = caseDir('hw-other/x86-64-v3'), own = caseDir('hw-plugin')
    writeFileSync(join(other, 'libx.so'), craftElf({ soname: 'libx.so' }))
    writeFileSync(join(own, 'libx.so'), craftElf({ soname: 'libx.so' }))
    symlinkSync(join(root, 'hw-other'), join(own, 'glibc-hwcaps'))
    writeFileSync(join(own, 'entry'), craftElf({ type: 3, needed: ['libx.so'], runpath: ['$ORIGIN'] }))
    expect(refusedLibrary(join(own, 'entry'), own)).toBe(join(other, 'libx.so'))
  })

  it('a FIFO where a hardware-capability candidate would be: refused at once, never opened', () => {
    const own = caseDir('fifo-plugin')
    mkdirSync(join(own, 'tls'))
    Bun.spawnSync(['mkfifo', join(own, 'tls', 'libx.so')])
    writeFileSync(join(own, 'libx.so'), craftElf({ soname: 'libx.so' }))
    writeFileSync(join(own, 'entry'), craftElf({ type: 3, needed: ['libx.so'], runpath: ['$ORIGIN'] }))
    const t = performance.now()
    expect(grants(join(own, 'entry'), own)).toBe('UNSAFE_EXECUTABLE')
    expect(performance.now() - t).toBeLessThan(2000)
  })

  it('a DT_NEEDED through /proc/self/root, $ORIGIN/.. or a symlinked directory to another plugin: refused', () => {
    const other = caseDir('proc-other'), own = caseDir('proc-plugin')
    writeFileSync(join(other, 'libo.so'), craftElf({ soname: 'libo.so' }))
    symlinkSync(other, join(own, 'link'))
    for (const needed of [`/proc/self/root${other}/libo.so`, '$ORIGIN/../proc-other/libo.so', '$ORIGIN/link/libo.so', `/proc/${process.pid}/cwd${'/..'.repeat(process.cwd().split('/').length - 1)}${other}/libo.so`]) {
      writeFileSync(join(own, 'entry'), craftElf({ type: 3, needed: [needed] }))
      expect({ needed, got: refusedLibrary(join(own, 'entry'), own) }).toEqual({ needed, got: join(other, 'libo.so') })
    }
  })

  it('a cycle of libraries is each object once; a chain deeper than MAX_CHAIN is refused at once', () => {
    const own = caseDir('cycle-plugin')
    writeFileSync(join(own, 'liba.so'), craftElf({ soname: 'liba.so', needed: ['$ORIGIN/libb.so'] }))
    writeFileSync(join(own, 'libb.so'), craftElf({ soname: 'libb.so', needed: ['$ORIGIN/liba.so', 'liba.so'] }))
    writeFileSync(join(own, 'entry'), craftElf({ type: 3, needed: ['$ORIGIN/liba.so'] }))
    const g = grants(join(own, 'entry'), own)
    expect(Array.isArray(g) && g.filter((p) => p.startsWith(own)).sort()).toEqual([join(own, 'liba.so'), join(own, 'libb.so')])
    const deep = caseDir('deep-plugin')
    for (let i = 0; i < 300; i++) writeFileSync(join(deep, `l${i}.so`), craftElf({ soname: `l${i}.so`, needed: [`$ORIGIN/l${i + 1}.so`] }))
    writeFileSync(join(deep, 'l300.so'), craftElf({ soname: 'l300.so' }))
    writeFileSync(join(deep, 'entry'), craftElf({ type: 3, needed: ['$ORIGIN/l0.so'] }))
    const t = performance.now()
    expect(grants(join(deep, 'entry'), deep)).toBe('UNSAFE_EXECUTABLE')
    expect(performance.now() - t).toBeLessThan(2000)
  })

  it('hostile headers (e_phnum 0xffff, a string without its NUL, overlapping PT_LOADs, huge offsets): refused, no throw', () => {
    const own = caseDir('hdr-plugin')
    const bad = [
      craftElf({ soname: 'libh.so', phnum: 0xffff }),
      craftElf({ soname: 'libh.so', unterminated: true }),
      craftElf({ soname: 'libh.so', overlap: true }),
      craftElf({ soname: 'libh.so', strtabAt: 0x7fffffffffff }),
      craftElf({ soname: 'libh.so', needed: ['x'], noNull: true }),
    ]
    for (const [i, b] of bad.entries()) {
      writeFileSync(join(own, 'libh.so'), b)
      writeFileSync(join(own, 'entry'), craftElf({ type: 3, needed: ['$ORIGIN/libh.so'] }))
      expect({ i, got: grants(join(own, 'entry'), own) }).toEqual({ i, got: 'UNSAFE_EXECUTABLE' })
    }
  })
})

describeWithCC('review 7: the closure and the loader disagree on an executable\'s own DT_SONAME', () => {
  // glibc's _dl_map_object matches a DT_NEEDED name against the DT_SONAME of every loaded object, the executable's
  // included: an executable whose soname is `libself.so` and that needs `libself.so` is its own provider, and runs.
  // The closure knows the executable only by its path, searches for `libself.so`, finds nothing and refuses it.
  it('an executable that needs its own DT_SONAME is not refused (availability; the loader runs it)', () => {
    const own = caseDir('self-soname'), work = caseDir('self-soname-work')
    buildLibrary(work, join(work, 'libself.so'), 'int self_fn(void) { return 1; }\n', { soname: 'libself.so' })
    buildProgram(work, join(own, 'entry'), 'int self_fn(void) { return 0; }\nint main(void) { return self_fn(); }\n',
      ['-Wl,--no-as-needed', `-L${work}`, '-lself', '-Wl,-soname,libself.so'])
    rmSync(join(work, 'libself.so'))
    const elf = readElfFile(pinCanonical(join(own, 'entry'))!)
    expect(elf.ok ? { needed: elf.elf.needed, soname: elf.elf.soname } : elf.problem).toEqual({ needed: ['libself.so', 'libc.so.6'], soname: 'libself.so' })
    const real = Bun.spawnSync([join(own, 'entry')], { stdout: 'pipe', stderr: 'pipe' })
    expect({ loaderRunsIt: real.exitCode }).toEqual({ loaderRunsIt: 0 })
    const g = grants(join(own, 'entry'), own)
    expect({ engine: typeof g === 'string' ? g : 'granted' }).toEqual({ engine: 'granted' })
  })
})

describeWithCC('review 7: the backstop when the loader loads what the engine did not vet', () => {
  // The list is cached by the executable's identity, and a cached library pin is checked for its path and inode
  // only: a library rewritten in place (same inode) after the list was made keeps the old list, so the loader then
  // reads DT_NEEDED names the engine never saw. What stops it is Landlock: an ungranted library fails EACCES.
  it('a library rewritten in place to need another plugin\'s library: the loader is refused it (EACCES), no leak', async () => {
    const other = caseDir('bs-other'), own = caseDir('bs-plugin'), work = caseDir('bs-work')
    const secret = join(other, 'libsecret.so')
    buildLibrary(work, secret, `const char other_secret[] = "${OTHER_SECRET}";\nint s_fn(void) { return 0; }\n`, { soname: 'libsecret.so' })
    buildLibrary(work, join(own, 'libx.so'), 'int x_fn(void) { return 0; }\n', { soname: 'libx.so' })
    buildProgram(work, join(own, 'entry'), leakReader(secret, OTHER_SECRET), [`-L${own}`, '-lx', '-Wl,-rpath,$ORIGIN'])
    // v2 of libx.so: needs the other plugin's library through a RUNPATH the engine would refuse.
    buildLibrary(work, join(work, 'libx-v2.so'), 'int s_fn(void);\nint x_fn(void) { return s_fn(); }\n',
      { soname: 'libx.so', args: [`-L${other}`, '-lsecret', `-Wl,-rpath,${other}`, '-Wl,--no-as-needed'] })
    writeFileSync(join(own, 'plugin.yaml'), 'namespace: hostile\nname: review7-backstop\nversion: 1.0.0\nruntime: exec\nentry: entry\nactions:\n  - name: read\n')
    Bun.spawnSync(['chmod', '-R', 'a+rX', other, own])
    const plugin = loadManifest(own)
    await Bun.sleep(120)
    const first = await runAttack(plugin, 'read', {}, { launcher: 'native', permissions: {} })
    expect(first.outcome).toMatchObject({ ok: true, output: { data: 'DENIED' } })
    // Rewritten in place: same inode, so the cached pin holds.
    const ino = lstatSync(join(own, 'libx.so')).ino
    writeFileSync(join(own, 'libx.so'), readFileSync(join(work, 'libx-v2.so')))
    expect(lstatSync(join(own, 'libx.so')).ino).toBe(ino)
    expect(grants(join(own, 'entry'), own)).not.toContain(secret)
    const second = await runAttack(plugin, 'read', {}, { launcher: 'native', permissions: {} })
    expect(second.text).not.toContain('LEAKED')
    expect(second.outcome.ok).toBe(false)
    // The file exists and is world-readable: only Landlock keeps the loader from it (it takes the EACCES as "not
    // here", searches on, and reports the last directory's ENOENT).
    expect(second.text).toMatch(/libsecret\.so: cannot open shared object file/)
  }, 60000)
})

describe('review 7: a search directory the kernel cannot walk is an error value, not a raw errno', () => {
  // dirHere (library-closure.ts) stats each search directory with throwIfNoEntry: false, which suppresses ENOENT
  // only: a RUNPATH through a regular file (ENOTDIR), a symlink loop (ELOOP) or a name too long (ENAMETOOLONG)
  // throws node's raw error out of sharedLibraries, and the task fails with code "ENOTDIR" and the engine's path and
  // syscall, not a stable code. The loader skips such a directory.
  it('refuses (UNSAFE_EXECUTABLE) or grants, never throws a raw fs error', () => {
    const own = caseDir('walk-plugin')
    symlinkSync('loop', join(own, 'loop'))
    const cases = { ENOTDIR: '$ORIGIN/entry/x', ELOOP: '$ORIGIN/loop/x', ENAMETOOLONG: `$ORIGIN/${'x'.repeat(4000)}` }
    const got: Record<string, string> = {}
    for (const [name, runpath] of Object.entries(cases)) {
      writeFileSync(join(own, 'entry'), craftElf({ type: 3, needed: ['libx.so'], runpath: [runpath] }))
      try {
        sharedLibraries(pinCanonical(join(own, 'entry'))!, own)
        got[name] = 'granted'
      } catch (e) {
        got[name] = e instanceof AppError ? e.code : `raw ${(e as NodeJS.ErrnoException).code}`
      }
    }
    expect(got).toEqual({ ENOTDIR: 'UNSAFE_EXECUTABLE', ELOOP: 'UNSAFE_EXECUTABLE', ENAMETOOLONG: 'UNSAFE_EXECUTABLE' })
  })

  it('a plain plugin that ships a regular file named `tls` (a hardware-capability name) next to its library still runs', () => {
    const own = caseDir('tls-file-plugin')
    writeFileSync(join(own, 'tls'), 'not a directory\n')
    writeFileSync(join(own, 'libx.so'), craftElf({ soname: 'libx.so' }))
    writeFileSync(join(own, 'entry'), craftElf({ type: 3, needed: ['libx.so'], runpath: ['$ORIGIN'] }))
    let got: string[] | string
    try { got = sharedLibraries(pinCanonical(join(own, 'entry'))!, own).map((p) => p.path) } catch (e) {
      got = e instanceof AppError ? e.code : `raw ${(e as NodeJS.ErrnoException).code}`
    }
    expect(Array.isArray(got) ? got.filter((p) => p.startsWith(own)) : got).toEqual([join(own, 'libx.so')])
  })
})
