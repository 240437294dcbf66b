/**
 * Issue 10, the residue of "anything the plugin controls, read by privileged code" through the dynamic loader: the
 * engine grants read + execute on the libraries `ld.so --list` prints, and that listing is text the executable's
 * author shapes. After review 4 a granted "library" had to be an ELF shared object, but an injected line in the
 * exact shape `\tname => /path (0xaddr)` could still name ANOTHER shared object on the host (here: a private library
 * of another service, readable by everyone, holding a secret), which the plugin then read. The injection can come
 * from any string the loader prints or builds a printed path from:
 * - a DT_NEEDED name of the entry holding newlines (the library's soname is its own odd path);
 * - a DT_RUNPATH of the entry holding newlines (the printed path is "<runpath dir>/<name>");
 * - a DT_NEEDED of a library the entry loads (the entry itself is plain);
 * - the entry's PT_INTERP (printed as "\t<interp> => <loader>").
 * Each must be refused (UNSAFE_EXECUTABLE): nothing of the listing is granted, and the plugin cannot open the private
 * library. A plain plugin with its own library (RUNPATH $ORIGIN/lib) still runs, and still cannot read it.
 */

import { afterAll, beforeAll, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import { pinCanonical } from '../../sandbox/plugins/path-pin.ts'
import { sharedLibraries } from '../../sandbox/process/exec-files.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { AppError } from '../../runtime/errors.ts'
import { buildLibrary, buildProgram, describeWithCC, RESULT } from '../helpers/elf-fixtures.ts'
import { LAUNCHERS, runAttack } from './harness.ts'

const SECRET = 'SVC-PRIVATE-9c41d7'
let root: string
let work: string
/** Another service's private library: an ELF shared object, world-readable, never granted to a plugin. */
let priv: string
let privDir: string

/** An entry that opens the private library and says whether it could ("OPENED") or not ("DENIED"). */
const opener = (decls: string, tail: string): string => `#include <stdio.h>
#include <stdlib.h>
${decls}
int main(void) {
  FILE *f = fopen(${JSON.stringify('PRIV')}, "r");
  const char *r = f ? "OPENED" : "DENIED";
  if (f) fclose(f);
  ${RESULT('r')}
  return ${tail};
}
`
const source = (decls: string, tail: string): string => opener(decls, tail).replace('"PRIV"', JSON.stringify(priv))

/** What the engine grants for the executable at `path`: the library paths, or the code it refuses with. */
function granted(path: string): string[] | string {
  const r = refusal(path)
  return Array.isArray(r) ? r : r.code
}
/** The library paths granted, or the refusal (code, and what it names: `details.object`, `details.field`). */
function refusal(path: string): string[] | AppError {
  try {
    return sharedLibraries(pinCanonical(path)!).map((p) => p.path)
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

const libSource = (fn: string) => `int ${fn}(void) { return 0; }\n`

describeWithCC('the loader\'s listing names no library the ELF files do not name plainly', () => {
  const plugins: Record<string, LoadedPlugin> = {}
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'ak-elf-names-'))
    chmodSync(root, 0o755)
    work = join(root, 'work')
    mkdirSync(work)
    privDir = join(root, 'othersvc', 'lib')
    priv = join(privDir, 'libsvc.so')
    buildLibrary(work, priv, `const char svc_secret[] = "${SECRET}";\nint svc(void) { return 0; }\n`, { soname: 'libsvc.so' })
    Bun.spawnSync(['chmod', '-R', 'a+rX', join(root, 'othersvc')])

    // Control: a plain plugin with its own library through RUNPATH $ORIGIN/lib.
    {
      const dir = join(root, 'plain')
      buildLibrary(work, join(dir, 'lib', 'libown.so'), libSource('own'), { soname: 'libown.so' })
      buildProgram(work, join(dir, 'entry'), source('int own(void);', 'own()'), [`-L${join(dir, 'lib')}`, '-lown', '-Wl,-rpath,$ORIGIN/lib'])
      plugins.plain = plugin(dir, 'elf-plain')
    }
    // 1. The entry's DT_NEEDED (its library's soname, an absolute path) holds a whole line naming the private library.
    {
      const dir = join(root, 'needed')
      const lib = `${dir}/A\n\tlibq.so => ${priv} (0x1)\n/b.so`
      buildLibrary(work, lib, libSource('nd'))
      buildProgram(work, join(dir, 'entry'), source('int nd(void);', 'nd()'), [lib])
      plugins.needed = plugin(dir, 'elf-needed')
    }
    // 2. The entry's RUNPATH holds a newline: "\tlibsvc.so => <dir>/r\n\tlibq.so => <privDir>/libsvc.so (0x…)".
    {
      const dir = join(root, 'runpath')
      const rdir = `${dir}/r\n\tlibq.so => ${privDir}`
      buildLibrary(work, join(rdir, 'libsvc.so'), libSource('svc'), { soname: 'libsvc.so' })
      buildProgram(work, join(dir, 'entry'), source('int svc(void);', 'svc()'), [`-L${rdir}`, '-lsvc', `-Wl,-rpath,${rdir}`, '-Wl,--enable-new-dtags'])
      plugins.runpath = plugin(dir, 'elf-runpath')
    }
    // 3. The entry is plain (it needs libmid.so through $ORIGIN); libmid.so needs the odd name.
    {
      const dir = join(root, 'transitive')
      const odd = `${dir}/T\n\tlibq.so => ${priv} (0x1)\n/c.so`
      buildLibrary(work, odd, libSource('deep'))
      buildLibrary(work, join(dir, 'libmid.so'), 'int deep(void);\nint mid(void) { return deep(); }\n', { soname: 'libmid.so', args: [odd] })
      buildProgram(work, join(dir, 'entry'), source('int mid(void);', 'mid()'), [`-L${dir}`, '-lmid', '-Wl,-rpath,$ORIGIN'])
      plugins.transitive = plugin(dir, 'elf-transitive')
    }
    // 4. A `run` program's PT_INTERP is printed as "\t<interp> => <loader>": it holds a line naming the private library.
    {
      const dir = join(root, 'interp')
      buildProgram(work, join(dir, 'tool'), 'int main(void) { return 0; }\n',
        [`-Wl,--dynamic-linker=/lib64/ld-linux-x86-64.so.2\n\tlibq.so => ${priv} (0x1)\n/x`])
      Bun.spawnSync(['chmod', '-R', 'a+rX', dir])
    }
  })
  afterAll(() => { if (root) rmSync(root, { recursive: true, force: true }) })

  it('the attacks are real: the loader prints each injected line in the exact shape the strict parse accepts', () => {
    const list = (p: string) => Bun.spawnSync(['/lib64/ld-linux-x86-64.so.2', '--list', p], { stdout: 'pipe', env: {} }).stdout.toString()
    expect(list(join(plugins.needed!.dir, 'entry')).split('\n').some((l) => /^\tlibq\.so => .*libsvc\.so \(0x1\)$/.test(l))).toBe(true)
    expect(list(join(plugins.runpath!.dir, 'entry')).split('\n').some((l) => l.startsWith(`\tlibq.so => ${priv} (0x`))).toBe(true)
    expect(list(join(plugins.transitive!.dir, 'entry')).split('\n').some((l) => /^\tlibq\.so => .*libsvc\.so \(0x1\)$/.test(l))).toBe(true)
    expect(list(join(root, 'interp', 'tool')).split('\n').some((l) => /^\tlibq\.so => .*libsvc\.so \(0x1\)$/.test(l))).toBe(true)
  })

  it('a plain ELF with its own library gets that library and libc, not the private one', () => {
    const libs = granted(join(plugins.plain!.dir, 'entry'))
    expect(Array.isArray(libs)).toBe(true)
    expect(libs).toContain(join(plugins.plain!.dir, 'lib', 'libown.so'))
    expect((libs as string[]).some((p) => /\/libc\.so\.6$/.test(p))).toBe(true)
    expect(libs).not.toContain(priv)
  })

  for (const [name, what, field, object] of [
    ['needed', 'a DT_NEEDED name of the entry', 'DT_NEEDED name', 'entry'],
    ['runpath', 'the entry\'s RUNPATH', 'DT_RUNPATH', 'entry'],
    ['transitive', 'a DT_NEEDED name of a library the entry loads', 'DT_NEEDED name', 'libmid.so'],
  ] as const) {
    it(`${what} holding a line: the engine refuses, granting nothing (UNSAFE_EXECUTABLE)`, () => {
      const dir = plugins[name]!.dir
      expect(granted(join(dir, 'entry'))).toBe('UNSAFE_EXECUTABLE')
      expect(refusal(join(dir, 'entry'))).toMatchObject({ details: { field, object: join(dir, object) } })
    })
  }

  it('a run program whose PT_INTERP holds a line: refused too', () => {
    expect(refusal(join(root, 'interp', 'tool'))).toMatchObject({ code: 'UNSAFE_EXECUTABLE', details: { field: 'PT_INTERP' } })
  })

  for (const launcher of LAUNCHERS) {
    it(`the plain plugin runs and cannot open the private library (${launcher})`, async () => {
      const run = await runAttack(plugins.plain!, 'read', {}, { launcher, permissions: {} })
      expect(run.outcome).toMatchObject({ ok: true, output: { data: 'DENIED' } })
    }, 60_000)
    for (const name of ['needed', 'runpath', 'transitive'] as const) {
      it(`the ${name} attack: the launch is refused and the plugin never opens the private library (${launcher})`, async () => {
        const run = await runAttack(plugins[name]!, 'read', {}, { launcher, permissions: {} })
        expect(run.text).not.toContain('OPENED')
        expect(run.outcome).toMatchObject({ ok: false, error: { code: 'UNSAFE_EXECUTABLE' } })
      }, 60_000)
    }
  }
})
