/** Unit tests: sharedLibraries on real programs, on files that are no (readable) ELF, and on a library just changed. */

import { afterAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pinCanonical } from '../plugins/path-pin.ts'
import { sharedLibraries } from './exec-files.ts'
import { ldsoList } from '../../test/helpers/ldso-oracle.ts'
import { buildLibrary, buildProgram, describeWithCC } from '../../test/helpers/elf-fixtures.ts'

const LD_SO = realpathSync('/lib64/ld-linux-x86-64.so.2')
const dir = mkdtempSync(join(tmpdir(), 'ak-exec-files-'))
// A root engine lists as nobody: the fixtures must be readable by everyone.
chmodSync(dir, 0o755)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The libraries granted for `p`, whose plugin directory is `own` (none: system libraries only). */
const libsOf = (p: string, own?: string): string[] => sharedLibraries(pinCanonical(p)!, own).map((l) => l.path)
/** What the loader itself lists for `p`, canonical. */
const listed = (p: string): string[] => ldsoList(p).libs

describe('sharedLibraries on real programs', () => {
  for (const p of ['/bin/sh', '/bin/ls', process.execPath]) {
    it(`${p}: every library the loader lists, and the loader`, () => {
      const libs = libsOf(realpathSync(p))
      expect(libs).toContain(LD_SO)
      expect(libs.some((l) => /\/libc\.so\.6$/.test(l))).toBe(true)
      expect([...libs].sort()).toEqual([...new Set([LD_SO, ...listed(realpathSync(p))])].sort())
    })
  }
})

describe('sharedLibraries on files that are no ELF the engine can read: the loader only, never a throw', () => {
  const ls = readFileSync('/bin/ls')
  const cases: [string, Buffer][] = [
    ['a truncated ELF', ls.subarray(0, 200)],
    ['an ELF header and garbage', Buffer.concat([ls.subarray(0, 64), Buffer.alloc(4096, 0xa5)])],
    ['an ELF whose program headers lie past its end', ((): Buffer => { const b = Buffer.from(ls.subarray(0, 4096)); b.writeBigUInt64LE(1n << 40n, 32); return b })()],
    ['a shell script without #!', Buffer.from('echo hi\n')],
  ]
  for (const [what, bytes] of cases) {
    it(what, () => {
      const p = join(dir, what.replace(/\W+/g, '-'))
      writeFileSync(p, bytes)
      chmodSync(p, 0o755)
      expect(libsOf(p)).toEqual([LD_SO])
    })
  }
})

describeWithCC('sharedLibraries and change', () => {
  it('a static program: the loader only', () => {
    buildProgram(dir, join(dir, 'static'), 'int main(void) { return 0; }\n', ['-static'])
    expect(libsOf(join(dir, 'static'))).toEqual([LD_SO])
  })
  it('a plain PT_INTERP other than the loader\'s own path (listed as "<interp> => <loader>"): its libraries as usual', () => {
    const interp = realpathSync('/lib64/ld-linux-x86-64.so.2')
    buildProgram(dir, join(dir, 'interp'), 'int main(void) { return 0; }\n', [`-Wl,--dynamic-linker=${interp}`])
    Bun.spawnSync(['chmod', 'a+rX', join(dir, 'interp')])
    const libs = libsOf(join(dir, 'interp'))
    expect(libs).toContain(LD_SO)
    expect(libs.some((l) => /\/libc\.so\.6$/.test(l))).toBe(true)
  })
  it('a library changed just before the listing is listed again, and granted as it is then', () => {
    const p = join(dir, 'fresh')
    buildLibrary(dir, join(p, 'libfresh.so'), 'int fresh(void) { return 0; }\n', { soname: 'libfresh.so' })
    buildProgram(dir, join(p, 'entry'), 'int fresh(void);\nint main(void) { return fresh(); }\n', [`-L${p}`, '-lfresh', '-Wl,-rpath,$ORIGIN'])
    Bun.spawnSync(['chmod', '-R', 'a+rX', p])
    // A chmod moves its ctime to now: what the engine reads of it may not be what the loader read, until it lists again.
    chmodSync(join(p, 'libfresh.so'), 0o755)
    expect(libsOf(join(p, 'entry'), realpathSync(p))).toContain(join(realpathSync(p), 'libfresh.so'))
  })
})
