/** Crafted ELF files (no compiler): minimal, exact layouts for parser and resolver tests, hostile ones included. */

import { MAX_STRING } from '../../sandbox/process/elf-dynamic.ts'

export interface Craft {
  is64?: boolean; le?: boolean; type?: number; needed?: string[]; runpath?: string[]; rpath?: string[]; interp?: string
  noDynamic?: boolean; noNull?: boolean; twoStrtabs?: boolean; phentsize?: number; phnum?: number; strtabAt?: number
  overlap?: boolean; unterminated?: boolean; soname?: string
}

/** A minimal ELF: one PT_LOAD mapping the whole file at address 0x10000, a PT_DYNAMIC, a string table. */
export function craftElf(c: Craft = {}): Uint8Array {
  const is64 = c.is64 ?? true, le = c.le ?? true
  const ehsize = is64 ? 64 : 52, phent = is64 ? 56 : 32, dynent = is64 ? 16 : 8, BASE = 0x10000
  const strings: string[] = []
  let str = '\0'
  const add = (s: string): number => { const at = str.length; str += `${s}\0`; strings.push(s); return at }
  const entries: [number, number][] = []
  for (const n of c.needed ?? []) entries.push([1, add(n)])
  for (const r of c.runpath ?? []) entries.push([29, add(r)])
  for (const r of c.rpath ?? []) entries.push([15, add(r)])
  if (c.soname !== undefined) entries.push([14, add(c.soname)])
  const phs = (c.noDynamic ? 1 : 2) + (c.interp !== undefined ? 1 : 0) + (c.overlap ? 1 : 0)
  const phoff = ehsize
  const dynoff = phoff + phs * phent
  const ndyn = entries.length + 1 + (c.twoStrtabs ? 1 : 0) + (c.noNull ? 0 : 1)
  const stroff = dynoff + ndyn * dynent
  const interpOff = stroff + str.length
  let body = str + (c.interp !== undefined ? `${c.interp}\0` : '')
  if (c.unterminated) body = body.replace(/\0$/, 'X'.repeat(MAX_STRING + 10))
  const total = stroff + body.length
  const buf = new Uint8Array(total)
  const v = new DataView(buf.buffer)
  const w16 = (o: number, x: number) => v.setUint16(o, x, le)
  const w32 = (o: number, x: number) => v.setUint32(o, x, le)
  const wW = (o: number, x: number | bigint) => is64 ? v.setBigUint64(o, BigInt(x), le) : v.setUint32(o, Number(x), le)
  buf.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1], 0)
  w16(16, c.type ?? 3)
  w16(18, 62)
  wW(is64 ? 32 : 28, phoff)
  w16(is64 ? 54 : 42, c.phentsize ?? phent)
  w16(is64 ? 56 : 44, c.phnum ?? phs)
  let p = phoff
  const ph = (type: number, off: number, vaddr: number, filesz: number) => {
    w32(p, type)
    if (is64) { wW(p + 8, off); wW(p + 16, vaddr); wW(p + 32, filesz); wW(p + 40, filesz) } else { wW(p + 4, off); wW(p + 8, vaddr); wW(p + 16, filesz); wW(p + 20, filesz) }
    p += phent
  }
  ph(1, 0, BASE, total)
  if (c.overlap) ph(1, 0, BASE + 0x100, 0x10)
  if (!c.noDynamic) ph(2, dynoff, BASE + dynoff, ndyn * dynent)
  if (c.interp !== undefined) ph(3, interpOff, BASE + interpOff, c.interp.length + 1)
  let d = dynoff
  const dyn = (tag: number, val: number) => {
    if (is64) { v.setBigInt64(d, BigInt(tag), le); v.setBigUint64(d + 8, BigInt(val), le) } else { v.setInt32(d, tag, le); v.setUint32(d + 4, val, le) }
    d += dynent
  }
  for (const [tag, at] of entries) dyn(tag, at)
  dyn(5, c.strtabAt ?? BASE + stroff)
  if (c.twoStrtabs) dyn(5, BASE + stroff)
  if (!c.noNull) dyn(0, 0)
  for (let i = 0; i < body.length; i++) buf[stroff + i] = body.charCodeAt(i) & 0xff
  return buf
}
