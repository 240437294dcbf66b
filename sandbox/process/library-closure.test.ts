/**
 * Unit tests: the engine's own resolution of an executable's libraries (library-closure.ts through sharedLibraries)
 * against the system loader's listing as an oracle (`ld.so --list`, run here in the test only), on real programs,
 * plugin-local libraries (RUNPATH/RPATH with $ORIGIN) and hostile files; and that making the list runs no program.
 */

import { afterAll, describe, expect, it, spyOn } from 'bun:test'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { pinCanonical } from '../plugins/path-pin.ts'
import { loaderLibraryPaths, sharedLibraries } from './exec-files.ts'
import { HWCAP_SUBDIRS, loaderDefaultDirs } from './library-closure.ts'
import { buildLibrary, buildProgram, describeWithCC } from '../../test/helpers/elf-fixtures.ts'
import { craftElf } from '../../test/helpers/elf-craft.ts'
import { LD_SO as LD_SO_PATH, ldsoList, parseLdsoList } from '../../test/helpers/ldso-oracle.ts'

const LD_SO = realpathSync(LD_SO_PATH)
const root = mkdtempSync(join(tmpdir(), 'ak-closure-'))
chmodSync(root, 0o755)
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** What the engine grants for `p` (plugin directory `own`), sorted; or the error it refuses with. */
const grants = (p: string, own?: string): string[] => sharedLibraries(pinCanonical(p)!, own).map((l) => l.path).sort()
const refusal = (p: string, own?: string): AppError => {
  try { grants(p, own) } catch (e) { if (e instanceof AppError) return e; throw e }
  throw new Error(`${p}: granted, expected a refusal`)
}
/** What the loader maps for `p`, the loader included, as the engine would grant it. */
const oracle = (p: string): string[] => {
  const r = ldsoList(p)
  expect(r.code).toBe(0)
  return [...new Set([LD_SO, ...r.libs])].sort()
}

describe('the in-engine list equals the loader\'s own, on real programs', () => {
  const programs = ['/bin/ls', '/bin/sh', '/usr/bin/python3', process.execPath, '/usr/bin/git', '/usr/bin/curl', '/usr/bin/ssh', '/usr/bin/perl']
    .filter((p) => existsSync(p)).map((p) => realpathSync(p))
  it('there are programs to compare (at least ls, sh and bun)', () => expect(programs.length).toBeGreaterThanOrEqual(3))
  for (const p of programs) {
    it(p, () => {
      const got = grants(p)
      expect(got).toEqual(oracle(p))
      expect(got.some((l) => /\/libc\.so\.6$/.test(l))).toBe(true)
    })
  }
  it('the default directories it searches are the ones this loader says it searches', () => {
    const help = Bun.spawnSync([LD_SO_PATH, '--help'], { stdout: 'pipe' }).stdout.toString()
    const sys = [...help.matchAll(/^ {2}(\/\S+) \(system search path\)$/gm)].map((m) => m[1]!)
    expect(sys.length).toBeGreaterThan(0)
    expect([...loaderDefaultDirs()!]).toEqual(sys)
  })
  it('every hardware-capability subdirectory this loader searches is one it tries', () => {
    const help = Bun.spawnSync([LD_SO_PATH, '--help'], { stdout: 'pipe' }).stdout.toString()
    const hw = [...help.matchAll(/^ {2}(x86-64-v\d)(?: \(.*searched\))?$/gm)].filter((m) => m[0].includes('searched')).map((m) => `glibc-hwcaps/${m[1]}`)
    for (const h of hw) expect(HWCAP_SUBDIRS).toContain(h)
  })
})

describe('making the list runs no program', () => {
  it('no Bun.spawn / spawnSync while listing (a cache miss: a fresh copy of curl or ls)', () => {
    const src = existsSync('/usr/bin/curl') ? '/usr/bin/curl' : '/bin/ls'
    const p = join(root, 'nospawn')
    copyFileSync(src, p); chmodSync(p, 0o755)
    const s1 = spyOn(Bun, 'spawnSync'), s2 = spyOn(Bun, 'spawn')
    try {
      expect(grants(p).length).toBeGreaterThan(1)
      expect(s1).not.toHaveBeenCalled()
      expect(s2).not.toHaveBeenCalled()
    } finally { s1.mockRestore(); s2.mockRestore() }
  })
  it('no product source under sandbox/ runs the loader\'s listing (`--list`, ldd) on a file', () => {
    const found: string[] = []
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name)
        if (e.isDirectory()) walk(p)
        else if (/\.ts$/.test(e.name) && !/\.test\.ts$/.test(e.name)) {
          const code = readFileSync(p, 'utf8').split('\n').filter((l) => !/^\s*(\*|\/\/|\/\*)/.test(l)).join('\n')
          if (/['"`](?:--list|ldd)['"`]/.test(code)) found.push(p)
        }
      }
    }
    walk(join(import.meta.dir, '..'))
    expect(found).toEqual([])
    // The pattern finds what it is for (a test that cannot fail is none).
    expect(/['"`](?:--list|ldd)['"`]/.test(`Bun.spawnSync(['ldd', p])`)).toBe(true)
  })
})

describe('the paths the loader finds the engine\'s own programs\' libraries by (Docker images, the deadline tool)', () => {
  it('bun and sh: the loader\'s own names for them, the loader included, no program run', () => {
    for (const b of [process.execPath, realpathSync('/bin/sh')]) {
      const spy = spyOn(Bun, 'spawnSync')
      let got: string[]
      try { got = loaderLibraryPaths(b) } finally { spy.mockRestore() }
      expect(spy).not.toHaveBeenCalled()
      const want = [...new Set(parseLdsoList(ldsoList(b).out))].sort()
      expect([...got].sort()).toEqual(want)
      expect(got).toContain(LD_SO_PATH)
    }
  })
})

describeWithCC('plugin-local libraries', () => {
  const mk = (name: string): string => { const d = join(root, name); mkdirSync(d, { recursive: true, mode: 0o755 }); return realpathSync(d) }
  const open = (d: string) => Bun.spawnSync(['chmod', '-R', 'a+rX', d])

  it('RUNPATH $ORIGIN/lib (new dtags), two levels: granted, as the loader finds them', () => {
    const d = mk('runpath')
    buildLibrary(root, join(d, 'lib/libb.so'), 'int b(void) { return 1; }\n', { soname: 'libb.so' })
    buildLibrary(root, join(d, 'lib/liba.so'), 'int b(void);\nint a(void) { return b(); }\n', { soname: 'liba.so', args: [`-L${d}/lib`, '-lb', '-Wl,--enable-new-dtags,-rpath,$ORIGIN'] })
    buildProgram(root, join(d, 'entry'), 'int a(void);\nint main(void) { return a(); }\n', [`-L${d}/lib`, '-la', '-Wl,--enable-new-dtags,-rpath,$ORIGIN/lib'])
    open(d)
    const got = grants(join(d, 'entry'), d)
    expect(got).toContain(join(d, 'lib/liba.so'))
    expect(got).toContain(join(d, 'lib/libb.so'))
    expect(got).toEqual(oracle(join(d, 'entry')))
  })
  it('RPATH (old dtags) of the executable serves a library\'s needs too (the loader chain), as the loader does', () => {
    const d = mk('rpath-chain')
    buildLibrary(root, join(d, 'deep/libd.so'), 'int dd(void) { return 1; }\n', { soname: 'libd.so' })
    buildLibrary(root, join(d, 'lib/libc1.so'), 'int dd(void);\nint c1(void) { return dd(); }\n', { soname: 'libc1.so', args: [`-L${d}/deep`, '-ld'] })
    buildProgram(root, join(d, 'entry'), 'int c1(void);\nint main(void) { return c1(); }\n',
      [`-L${d}/lib`, `-L${d}/deep`, '-lc1', '-Wl,--disable-new-dtags,-rpath,$ORIGIN/lib:$ORIGIN/deep', '-Wl,-rpath-link,' + `${d}/deep`])
    open(d)
    const got = grants(join(d, 'entry'), d)
    expect(got).toContain(join(d, 'deep/libd.so'))
    expect(got).toEqual(oracle(join(d, 'entry')))
  })
  it('a cycle of libraries (a needs b, b needs a): each once, as the loader lists them', () => {
    const d = mk('cycle')
    buildLibrary(root, join(d, 'libb.so'), 'int b(void) { return 1; }\n', { soname: 'libb.so' })
    buildLibrary(root, join(d, 'liba.so'), 'int b(void);\nint a(void) { return b(); }\n', { soname: 'liba.so', args: [`-L${d}`, '-lb', '-Wl,-rpath,$ORIGIN'] })
    // libb rebuilt needing liba: now a cycle.
    buildLibrary(root, join(d, 'libb.so'), 'int b(void) { return 1; }\n', { soname: 'libb.so', args: [`-L${d}`, '-Wl,--no-as-needed', '-la', '-Wl,-rpath,$ORIGIN'] })
    buildProgram(root, join(d, 'entry'), 'int a(void);\nint main(void) { return a(); }\n', [`-L${d}`, '-la', '-Wl,-rpath,$ORIGIN'])
    open(d)
    const needs = Bun.spawnSync(['readelf', '-d', join(d, 'libb.so')], { stdout: 'pipe' }).stdout.toString()
    expect(needs).toContain('Shared library: [liba.so]')
    expect(grants(join(d, 'entry'), d)).toEqual(oracle(join(d, 'entry')))
  })
  it('a wrong-class and a wrong-machine ELF ahead of the right one in the search path: skipped, the one the loader takes granted', () => {
    const d = mk('wrong-class')
    for (const sub of ['a', 'b', 'c']) buildLibrary(root, join(d, sub, 'libw.so'), 'int w(void) { return 1; }\n', { soname: 'libw.so' })
    buildProgram(root, join(d, 'entry'), 'int w(void);\nint main(void) { return w(); }\n', [`-L${d}/c`, '-lw', '-Wl,--enable-new-dtags,-rpath,$ORIGIN/a:$ORIGIN/b:$ORIGIN/c'])
    // a/: ELFCLASS32 in the header; b/: e_machine AArch64. The loader skips both and maps c/libw.so.
    const patch = (p: string, at: number, bytes: number[]): void => { const b = readFileSync(p); b.set(bytes, at); writeFileSync(p, b) }
    patch(join(d, 'a/libw.so'), 4, [1])
    patch(join(d, 'b/libw.so'), 18, [183, 0])
    open(d)
    const want = oracle(join(d, 'entry'))
    expect(want).toContain(join(d, 'c/libw.so'))
    const got = grants(join(d, 'entry'), d)
    expect(got).toEqual(want)
    expect(got).not.toContain(join(d, 'a/libw.so'))
    expect(got).not.toContain(join(d, 'b/libw.so'))
  })
  it('a library in a hardware-capability subdirectory the loader prefers: granted (with the plain one, which may be taken elsewhere)', () => {
    const d = mk('hwcap')
    buildLibrary(root, join(d, 'lib/libh.so'), 'int h(void) { return 1; }\n', { soname: 'libh.so' })
    mkdirSync(join(d, 'lib/x86_64'), { mode: 0o755 })
    copyFileSync(join(d, 'lib/libh.so'), join(d, 'lib/x86_64/libh.so'))
    mkdirSync(join(d, 'lib/glibc-hwcaps/x86-64-v2'), { recursive: true, mode: 0o755 })
    copyFileSync(join(d, 'lib/libh.so'), join(d, 'lib/glibc-hwcaps/x86-64-v2/libh.so'))
    buildProgram(root, join(d, 'entry'), 'int h(void);\nint main(void) { return h(); }\n', [`-L${d}/lib`, '-lh', '-Wl,-rpath,$ORIGIN/lib'])
    open(d)
    const got = grants(join(d, 'entry'), d)
    for (const l of oracle(join(d, 'entry'))) expect(got).toContain(l)
  })
  it('a needed library found nowhere: refused (the loader would not start it either), saying which', () => {
    const d = mk('missing')
    buildLibrary(root, join(d, 'libgone.so'), 'int g(void) { return 1; }\n', { soname: 'libgone-nowhere.so' })
    buildProgram(root, join(d, 'entry'), 'int g(void);\nint main(void) { return g(); }\n', [join(d, 'libgone.so')])
    open(d)
    expect(ldsoList(join(d, 'entry')).code).not.toBe(0)
    const e = refusal(join(d, 'entry'), d)
    expect(e.code).toBe(ErrorCode.UnsafeExecutable)
    expect(e.message).toContain('libgone-nowhere.so')
    expect(e.message).toContain('would not start it either')
  })
})

describeWithCC('hostile executables: refused or the loader only, fast, and nothing opened that is not a regular file', () => {
  const mk = (name: string): string => { const d = join(root, name); mkdirSync(d, { recursive: true, mode: 0o755 }); return realpathSync(d) }
  /** An entry in `d` whose DT_NEEDED is exactly `needed` (a real library with that soname at link time). */
  const entryNeeding = (d: string, needed: string, rpath?: string): string => {
    buildLibrary(root, join(root, `stub-${Bun.hash(d + needed).toString(16)}.so`), 'int s(void) { return 0; }\n', { soname: needed })
    buildProgram(root, join(d, 'entry'), 'int main(void) { return 0; }\n',
      ['-Wl,--no-as-needed', join(root, `stub-${Bun.hash(d + needed).toString(16)}.so`), ...(rpath ? [`-Wl,--enable-new-dtags,-rpath,${rpath}`] : [])])
    Bun.spawnSync(['chmod', '-R', 'a+rX', d])
    return join(d, 'entry')
  }
  const quick = (f: () => void): void => { const t = performance.now(); f(); expect(performance.now() - t).toBeLessThan(2_000) }

  it('DT_NEEDED naming a FIFO, by path and through RUNPATH: UNSAFE_EXECUTABLE, the FIFO never opened', () => {
    const d = mk('fifo')
    Bun.spawnSync(['mkfifo', '-m', '0666', join(d, 'libf.so')])
    const byPath = entryNeeding(mk('fifo/path'), join(d, 'libf.so'))
    const bySearch = entryNeeding(mk('fifo/search'), 'libf.so', d)
    quick(() => expect(refusal(byPath, d).code).toBe(ErrorCode.UnsafeExecutable))
    quick(() => expect(refusal(bySearch, d).message).toContain('not a regular file'))
    expect(statSync(join(d, 'libf.so')).isFIFO()).toBe(true)
  })
  it('DT_NEEDED naming a device: UNSAFE_EXECUTABLE', () => {
    const e = entryNeeding(mk('device'), '/dev/zero')
    quick(() => expect(refusal(e).message).toContain('not a regular file'))
  })
  it('DT_NEEDED naming /proc/self/… (the engine\'s own files): refused before a byte is read', () => {
    for (const [name, target] of [['exe', '/proc/self/exe'], ['environ', '/proc/self/environ'], ['fd', '/proc/self/fd/0']] as const) {
      const e = entryNeeding(mk(`proc-${name}`), target)
      const err = refusal(e)
      expect(err.code).toBe(ErrorCode.UnsafeExecutable)
    }
  })
  it('a symlink in the plugin directory to a key file, as a library: refused by place, never read', () => {
    const d = mk('symlink-key')
    writeFileSync(join(root, 'key'), 'SECRET')
    symlinkSync(join(root, 'key'), join(d, 'libk.so'))
    const e = entryNeeding(d, 'libk.so', '$ORIGIN')
    expect(refusal(e, d).message).toContain('lies neither in a system library directory')
  })
  it('10 000 DT_NEEDED names: an executable gets the loader only, a library is refused; both at once', () => {
    const d = mk('many')
    const names = Array.from({ length: 10_000 }, (_, i) => `libn${i}.so`)
    writeFileSync(join(d, 'crafted'), craftElf({ needed: names })); chmodSync(join(d, 'crafted'), 0o755)
    quick(() => expect(grants(join(d, 'crafted'), d)).toEqual([LD_SO]))
    const e = entryNeeding(d, 'libmany.so', '$ORIGIN')
    writeFileSync(join(d, 'libmany.so'), craftElf({ needed: names, soname: 'libmany.so' })); chmodSync(join(d, 'libmany.so'), 0o755)
    quick(() => expect(refusal(e, d).message).toContain('more than 512'))
  })
  it('a huge dynamic section without its end (1 M entries): the loader only, read within bounds', () => {
    const d = mk('huge-dyn')
    const b = craftElf({ needed: ['liba.so'], noNull: true })
    const big = new Uint8Array(b.length + 16 * 1_000_000)
    big.set(b)
    writeFileSync(join(d, 'crafted'), big); chmodSync(join(d, 'crafted'), 0o755)
    quick(() => expect(grants(join(d, 'crafted'), d)).toEqual([LD_SO]))
  })
  it('$LIB, $PLATFORM and a relative search directory: refused', () => {
    for (const [name, rpath] of [['lib', '$LIB/x'], ['platform', '/x/$PLATFORM'], ['relative', 'lib'], ['empty', '/nonexistent::/x']] as const) {
      const e = entryNeeding(mk(`dst-${name}`), 'libnowhere-dst.so', rpath)
      expect(refusal(e).code).toBe(ErrorCode.UnsafeExecutable)
    }
  })
  it('a PIE program or a non-ELF file where a library is needed: refused (the loader would fail on it), and the loader indeed fails', () => {
    for (const [name, make] of [
      ['pie', (p: string) => buildProgram(root, p, 'int main(void) { return 0; }\n', ['-pie', '-fPIE'])],
      ['text', (p: string) => writeFileSync(p, 'not an ELF, a library name leads here\n')],
    ] as const) {
      const d = mk(`not-so-${name}`)
      const e = entryNeeding(d, `lib${name}.so`, '$ORIGIN')
      make(join(d, `lib${name}.so`)); chmodSync(join(d, `lib${name}.so`), 0o755)
      expect(ldsoList(e).code).not.toBe(0)
      expect(refusal(e, d).message).toContain('which the loader would fail on')
    }
  })
  it('a relative DT_NEEDED path: refused', () => {
    expect(refusal(entryNeeding(mk('relative-needed'), 'sub/libr.so')).message).toContain('relative path')
  })
  it('a DT_AUDIT module: refused', () => {
    const d = mk('audit')
    buildLibrary(root, join(d, 'libaudit.so'), 'unsigned la_version(unsigned v) { return v; }\n', { soname: 'libaudit.so' })
    buildProgram(root, join(d, 'entry'), 'int main(void) { return 0; }\n', [`-Wl,--audit,${join(d, 'libaudit.so')}`])
    Bun.spawnSync(['chmod', '-R', 'a+rX', d])
    expect(refusal(join(d, 'entry'), d).message).toContain('audit module')
  })
})
