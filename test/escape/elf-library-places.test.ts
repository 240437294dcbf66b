/**
 * Issue 10, the gap the plain-names check (elf-dynamic-names.test.ts) left open: a plugin's own ELF may name, plainly,
 * ANY shared object on the host, and the engine granted read + execute on whatever the loader then mapped. Here the
 * other service's private library (an ELF shared object, world-readable, holding a secret) lies in a directory that
 * is neither one of the loader's system directories nor inside the plugin's own. The plugin names it:
 * - by an absolute DT_NEEDED (the library's soname is its absolute path);
 * - by a DT_RUNPATH naming the service's library directory;
 * - by a DT_RUNPATH `$ORIGIN/../…` climbing out of the plugin's directory;
 * - by a symlink inside its own directory (`$ORIGIN/lib/libx.so` → the private library): judged by its canonical path;
 * - through a library of its own (in `$ORIGIN/lib`) whose RUNPATH names the service's directory.
 * Each must be refused (UNSAFE_EXECUTABLE, naming the library), and the plugin never opens the private library. A
 * plugin with its own library in `$ORIGIN/lib`, and a system program, still get their libraries and run.
 */

import { afterAll, beforeAll, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import { pinCanonical } from '../../sandbox/plugins/path-pin.ts'
import { sharedLibraries } from '../../sandbox/process/exec-files.ts'
import { parseLdsoList } from '../helpers/ldso-oracle.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { AppError } from '../../runtime/errors.ts'
import { buildLibrary, buildProgram, describeWithCC, RESULT } from '../helpers/elf-fixtures.ts'
import { LAUNCHERS, runAttack } from './harness.ts'

const SECRET = 'SVC-PRIVATE-4e02b9'
let root: string
let work: string
/** The other service's library directory and its private libraries (one with an absolute soname, one plain). */
let privDir: string
let privAbs: string
let privPlain: string

/** An entry that opens `path` and says whether it could ("OPENED") or not ("DENIED"), then calls `tail`. */
const opener = (path: string, decls: string, tail: string): string => `#include <stdio.h>
#include <stdlib.h>
${decls}
int main(void) {
  FILE *f = fopen(${JSON.stringify(path)}, "r");
  const char *r = f ? "OPENED" : "DENIED";
  if (f) fclose(f);
  ${RESULT('r')}
  return ${tail};
}
`

/** The library paths granted for the executable at `path` in the plugin directory `dir`, or the refusal. */
function refusal(path: string, dir: string): string[] | AppError {
  try {
    return sharedLibraries(pinCanonical(path)!, realpathSync(dir)).map((p) => p.path)
  } catch (e) {
    if (e instanceof AppError) return e
    throw e
  }
}

function plugin(dir: string, name: string): LoadedPlugin {
  Bun.spawnSync(['chmod', '-R', 'a+rX', dir])
  writeFileSync(join(dir, 'plugin.yaml'), `namespace: hostile\nname: ${name}\nversion: 1.0.0\nruntime: exec\nentry: entry\nactions:\n  - name: read\n`)
  return loadManifest(dir)
}

const ATTACKS = ['absolute', 'runpath', 'origin', 'symlink', 'own-lib-runpath'] as const

describeWithCC('a plugin\'s ELF gets libraries only from the system\'s library directories and its own directory', () => {
  const plugins: Record<string, LoadedPlugin> = {}
  /** The library each attack's refusal must name. */
  const named: Record<string, string> = {}
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'ak-elf-places-'))
    chmodSync(root, 0o755)
    root = realpathSync(root)
    work = join(root, 'work')
    mkdirSync(work)
    privDir = join(root, 'othersvc', 'lib')
    privAbs = join(privDir, 'libprivabs.so')
    privPlain = join(privDir, 'libpriv.so')
    const secret = (fn: string) => `const char ${fn}_secret[] = "${SECRET}";\nint ${fn}(void) { return 0; }\n`
    buildLibrary(work, privAbs, secret('privabs'))
    buildLibrary(work, privPlain, secret('priv'), { soname: 'libpriv.so' })
    Bun.spawnSync(['chmod', '-R', 'a+rX', join(root, 'othersvc')])
    const entry = (dir: string, args: string[]) => buildProgram(work, join(dir, 'entry'), opener(privPlain, 'int priv(void);', 'priv()'), args)

    // Control: its own library in $ORIGIN/lib (inside its directory), and libc.
    {
      const dir = join(root, 'plain')
      buildLibrary(work, join(dir, 'lib', 'libown.so'), 'int own(void) { return 0; }\n', { soname: 'libown.so' })
      buildProgram(work, join(dir, 'entry'), opener(privPlain, 'int own(void);', 'own()'), [`-L${join(dir, 'lib')}`, '-lown', '-Wl,-rpath,$ORIGIN/lib'])
      plugins.plain = plugin(dir, 'places-plain')
    }
    // 1. DT_NEEDED is the private library's absolute path.
    {
      const dir = join(root, 'absolute')
      buildProgram(work, join(dir, 'entry'), opener(privAbs, 'int privabs(void);', 'privabs()'), [privAbs])
      plugins.absolute = plugin(dir, 'places-absolute')
      named.absolute = privAbs
    }
    // 2. RUNPATH names the service's library directory.
    {
      const dir = join(root, 'runpath')
      entry(dir, [`-L${privDir}`, '-lpriv', `-Wl,-rpath,${privDir}`, '-Wl,--enable-new-dtags'])
      plugins.runpath = plugin(dir, 'places-runpath')
      named.runpath = privPlain
    }
    // 3. RUNPATH $ORIGIN/../othersvc/lib: out of the plugin's directory.
    {
      const dir = join(root, 'origin')
      entry(dir, [`-L${privDir}`, '-lpriv', '-Wl,-rpath,$ORIGIN/../othersvc/lib', '-Wl,--enable-new-dtags'])
      plugins.origin = plugin(dir, 'places-origin')
      named.origin = privPlain
    }
    // 4. $ORIGIN/lib/libpriv.so inside its directory is a symlink to the private library.
    {
      const dir = join(root, 'symlink')
      mkdirSync(join(dir, 'lib'), { recursive: true })
      symlinkSync(privPlain, join(dir, 'lib', 'libpriv.so'))
      entry(dir, [`-L${privDir}`, '-lpriv', '-Wl,-rpath,$ORIGIN/lib'])
      plugins.symlink = plugin(dir, 'places-symlink')
      named.symlink = privPlain
    }
    // 5. Its own library (in $ORIGIN/lib, allowed) has a RUNPATH naming the service's directory.
    {
      const dir = join(root, 'own-lib-runpath')
      buildLibrary(work, join(dir, 'lib', 'libmid.so'), 'int priv(void);\nint mid(void) { return priv(); }\n',
        { soname: 'libmid.so', args: [`-L${privDir}`, '-lpriv', `-Wl,-rpath,${privDir}`] })
      buildProgram(work, join(dir, 'entry'), opener(privPlain, 'int mid(void);', 'mid()'),
        [`-L${join(dir, 'lib')}`, '-lmid', '-Wl,-rpath,$ORIGIN/lib', `-Wl,-rpath-link,${privDir}`])
      plugins['own-lib-runpath'] = plugin(dir, 'places-own-lib-runpath')
      named['own-lib-runpath'] = privPlain
    }
  })
  afterAll(() => { if (root) rmSync(root, { recursive: true, force: true }) })

  it('the attacks are real: the loader maps the private library for each', () => {
    for (const name of ATTACKS) {
      const out = Bun.spawnSync(['/lib64/ld-linux-x86-64.so.2', '--list', join(plugins[name]!.dir, 'entry')], { stdout: 'pipe', env: {} }).stdout.toString()
      expect(parseLdsoList(out).map((l) => realpathSync(l))).toContain(named[name]!)
    }
  })

  it('a plugin with its own library in $ORIGIN/lib gets it, and libc', () => {
    const libs = refusal(join(plugins.plain!.dir, 'entry'), plugins.plain!.dir)
    expect(Array.isArray(libs)).toBe(true)
    expect(libs).toContain(join(plugins.plain!.dir, 'lib', 'libown.so'))
    expect((libs as string[]).some((p) => /\/libc\.so\.6$/.test(p))).toBe(true)
  })

  it('a system program gets its libraries whatever the plugin directory', () => {
    const libs = refusal(realpathSync('/bin/ls'), plugins.plain!.dir)
    expect(Array.isArray(libs) && libs.some((p) => /\/libc\.so\.6$/.test(p))).toBe(true)
  })

  for (const name of ATTACKS) {
    it(`${name}: refused (UNSAFE_EXECUTABLE), naming the library by its canonical path`, () => {
      const r = refusal(join(plugins[name]!.dir, 'entry'), plugins[name]!.dir)
      expect(r).toBeInstanceOf(AppError)
      expect(r).toMatchObject({ code: 'UNSAFE_EXECUTABLE', details: { library: named[name] } })
      expect((r as AppError).message).toContain(named[name]!)
    })
  }

  for (const launcher of LAUNCHERS) {
    it(`the plain plugin runs and cannot open the private library (${launcher})`, async () => {
      const run = await runAttack(plugins.plain!, 'read', {}, { launcher, permissions: {} })
      expect(run.outcome).toMatchObject({ ok: true, output: { data: 'DENIED' } })
    }, 60_000)
    for (const name of ATTACKS) {
      it(`the ${name} attack: the launch is refused and the plugin never opens the private library (${launcher})`, async () => {
        const run = await runAttack(plugins[name]!, 'read', {}, { launcher, permissions: {} })
        expect(run.text).not.toContain('OPENED')
        expect(run.outcome).toMatchObject({ ok: false, error: { code: 'UNSAFE_EXECUTABLE' } })
      }, 60_000)
    }
  }
})
