/** Unit tests: elf-dynamic.ts on real system files, compiled fixtures, crafted buffers and garbage (never a throw). */

import { afterAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pinCanonical } from '../plugins/path-pin.ts'
import { MAX_PHNUM, MAX_STRING, parseElfDynamic, readElfFile, type ElfRead } from './elf-dynamic.ts'
import { buildProgram, describeWithCC } from '../../test/helpers/elf-fixtures.ts'
import { craftElf as craft, type Craft } from '../../test/helpers/elf-craft.ts'

const dir = mkdtempSync(join(tmpdir(), 'ak-elf-dyn-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const parse = (b: Uint8Array): ElfRead =>
  parseElfDynamic(b.length, (o, l) => (o + l <= b.length ? b.subarray(o, o + l) : undefined), 4096)
const fromFile = (p: string): ElfRead => readElfFile(pinCanonical(p)!)
const libc = ((): string => {
  const out = Bun.spawnSync(['/lib64/ld-linux-x86-64.so.2', '--list', '/bin/ls'], { stdout: 'pipe', env: {} }).stdout.toString()
  return realpathSync(/libc\.so\.6 => (\S+)/.exec(out)![1]!)
})()



describe('parseElfDynamic on real files', () => {
  it('/bin/ls: its DT_NEEDED names and its interpreter', () => {
    const r = fromFile('/bin/ls')
    expect(r.ok).toBe(true)
    if (!r.ok) return
    expect(r.elf.dynamic).toBe(true)
    expect(r.elf.needed).toContain('libc.so.6')
    expect(r.elf.interp).toBe('/lib64/ld-linux-x86-64.so.2')
    expect([2, 3]).toContain(r.elf.type)
  })
  it('libc: a shared object needing the loader', () => {
    const r = fromFile(libc)
    expect(r).toMatchObject({ ok: true, elf: { type: 3, dynamic: true } })
    if (r.ok) expect(r.elf.needed).toContain('ld-linux-x86-64.so.2')
  })
  it('the Bun runtime: its libraries, the same names the loader lists', () => {
    const r = fromFile(realpathSync(process.execPath))
    expect(r.ok).toBe(true)
    const listed = Bun.spawnSync(['/lib64/ld-linux-x86-64.so.2', '--list', process.execPath], { stdout: 'pipe', env: {} }).stdout.toString()
    if (r.ok) for (const n of r.elf.needed) expect(listed).toContain(n)
  })
  it('a file that is not an ELF, and an empty one: a problem', () => {
    writeFileSync(join(dir, 'text'), '#!/bin/sh\necho hi\n')
    writeFileSync(join(dir, 'empty'), '')
    expect(fromFile(join(dir, 'text'))).toMatchObject({ ok: false, problem: 'is not an ELF file' })
    expect(fromFile(join(dir, 'empty'))).toMatchObject({ ok: false })
  })
})

describeWithCC('parseElfDynamic on compiled programs', () => {
  it('RUNPATH (new dtags) and RPATH (old) as the linker wrote them', () => {
    buildProgram(dir, join(dir, 'rp'), 'int main(void) { return 0; }\n', ['-Wl,-rpath,$ORIGIN/a:/opt/x', '-Wl,--enable-new-dtags'])
    buildProgram(dir, join(dir, 'rpo'), 'int main(void) { return 0; }\n', ['-Wl,-rpath,$ORIGIN/b', '-Wl,--disable-new-dtags'])
    expect(fromFile(join(dir, 'rp'))).toMatchObject({ ok: true, elf: { runpath: ['$ORIGIN/a:/opt/x'], rpath: [] } })
    expect(fromFile(join(dir, 'rpo'))).toMatchObject({ ok: true, elf: { runpath: [], rpath: ['$ORIGIN/b'] } })
  })
  it('a static program: no dynamic section, no libraries', () => {
    buildProgram(dir, join(dir, 'static'), 'int main(void) { return 0; }\n', ['-static'])
    expect(fromFile(join(dir, 'static'))).toMatchObject({ ok: true, elf: { dynamic: false, needed: [] } })
  })
  it('a 32-bit program, where the compiler can make one', () => {
    const r = Bun.spawnSync(['cc', '-m32', '-o', join(dir, 'm32'), '-x', 'c', '-'], { stdin: new TextEncoder().encode('int main(void){return 0;}\n'), stderr: 'pipe' })
    if (r.exitCode !== 0) return // no 32-bit libc here: the crafted ELF32 cases below cover the format
    const e = fromFile(join(dir, 'm32'))
    expect(e.ok).toBe(true)
    if (e.ok) expect(e.elf.needed).toContain('libc.so.6')
  })
})

describe('parseElfDynamic on crafted files', () => {
  const names = { needed: ['liba.so.1', '/abs/libb.so'], runpath: ['$ORIGIN/lib'], rpath: ['/r'], interp: '/lib/ld.so' }
  for (const [is64, le] of [[true, true], [true, false], [false, true], [false, false]] as const) {
    it(`ELF${is64 ? 64 : 32} ${le ? 'little' : 'big'}-endian: every string read back`, () => {
      expect(parse(craft({ ...names, is64, le }))).toEqual({ ok: true, elf: { type: 3, dynamic: true, audit: [], flags1: 0n, ...names,
        header: expect.objectContaining({ cls: is64 ? 2 : 1, data: le ? 1 : 2 }) } })
    })
  }
  it('names with newlines are read as they are (judging them is the caller\'s)', () => {
    const odd = '/p/A\n\tlibc.so.6 => /x.so (0x1)\n/b.so'
    expect(parse(craft({ needed: [odd] }))).toMatchObject({ ok: true, elf: { needed: [odd] } })
  })
  it('no PT_DYNAMIC: nothing needed', () => {
    expect(parse(craft({ noDynamic: true }))).toMatchObject({ ok: true, elf: { dynamic: false, needed: [] } })
  })
  it('refuses what it cannot read the way the loader does', () => {
    const problem = (c: Craft) => { const r = parse(craft(c)); expect(r.ok).toBe(false); return r.ok ? '' : r.problem }
    expect(problem({ needed: ['a'], noNull: true })).toContain('DT_NULL')
    expect(problem({ needed: ['a'], twoStrtabs: true })).toContain('DT_STRTAB')
    expect(problem({ needed: ['a'], phentsize: 40 })).toContain('program headers of 40')
    expect(problem({ needed: ['a'], phnum: 0xffff })).toContain(`at most ${MAX_PHNUM}`)
    expect(problem({ needed: ['a'], phnum: 0 })).toContain('no program headers')
    expect(problem({ needed: ['a'], strtabAt: 0x7fff0000 })).toContain('outside')
    expect(problem({ needed: ['a'], overlap: true })).toContain('share a page')
    expect(problem({ needed: ['a'], unterminated: true })).toContain('more than')
    expect(problem({ is64: true, needed: ['a'], strtabAt: 0 })).toContain('outside')
  })
  it('an absurd 64-bit offset: a problem, not a throw', () => {
    const b = craft({ needed: ['a'] })
    new DataView(b.buffer).setBigUint64(32, 0xffffffffffffff00n, true)
    expect(parse(b)).toMatchObject({ ok: false })
  })
  it('every truncation of a real file and of a crafted one: a problem or a result, never a throw', () => {
    const ls = readFileSync('/bin/ls')
    for (let n = 0; n < Math.min(ls.length, 20_000); n += 7) {
      const r = parse(ls.subarray(0, n))
      expect(typeof r.ok).toBe('boolean')
    }
    const c = craft({ ...names })
    for (let n = 0; n < c.length; n++) expect(parse(c.subarray(0, n)).ok).toBe(false)
  })
  it('random bytes after an ELF header, and random flips of a real header: never a throw', () => {
    let seed = 12345
    const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed }
    const base = craft({ ...names })
    for (let i = 0; i < 3000; i++) {
      const b = Uint8Array.from(base)
      const flips = 1 + (rnd() % 8)
      for (let f = 0; f < flips; f++) b[rnd() % b.length] = rnd() & 0xff
      const r = parse(b)
      expect(typeof r.ok).toBe('boolean')
      if (r.ok) for (const s of r.elf.needed) expect(s.length).toBeLessThanOrEqual(MAX_STRING)
    }
    for (let i = 0; i < 500; i++) {
      const b = new Uint8Array(64 + (rnd() % 4096))
      for (let k = 0; k < b.length; k++) b[k] = rnd() & 0xff
      b.set([0x7f, 0x45, 0x4c, 0x46, 1 + (rnd() % 2), 1 + (rnd() % 2)], 0)
      expect(typeof parse(b).ok).toBe('boolean')
    }
  })
  it('never reads more than its bounds, whatever the file claims', () => {
    let most = 0
    const b = craft({ needed: Array.from({ length: 40 }, (_, i) => `lib${i}.so`) })
    const r = parseElfDynamic(b.length, (o, l) => { most = Math.max(most, l); return o + l <= b.length ? b.subarray(o, o + l) : undefined }, 4096)
    expect(r.ok).toBe(true)
    expect(most).toBeLessThanOrEqual(MAX_STRING + 1 + 64 * 1024)
  })
})

describe('readElfFile', () => {
  it('reads only the pinned inode: another file at the path is a problem', () => {
    const p = join(dir, 'swap')
    writeFileSync(p, readFileSync('/bin/ls'))
    const pin = pinCanonical(p)!
    renameSync(p, `${p}.old`)
    writeFileSync(p, readFileSync('/bin/ls'))
    expect(readElfFile(pin)).toMatchObject({ ok: false, problem: 'is another file than the one checked' })
  })
  it('a FIFO is never read (no hang)', () => {
    const p = join(dir, 'fifo')
    Bun.spawnSync(['mkfifo', p])
    expect(readElfFile(pinCanonical(p)!)).toMatchObject({ ok: false })
  })
})
