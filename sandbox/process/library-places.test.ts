/** Unit tests: the system library directories (from the real /etc/ld.so.cache) and where a library may come from. */

import { afterAll, describe, expect, it } from 'bun:test'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { libraryPlaceProblem, parseLdCache, rootHeld, systemLibraryDirs } from './library-places.ts'
import { pinFile } from './exec-files.ts'

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'ak-lib-places-')))
chmodSync(dir, 0o755)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('the ld.so.cache', () => {
  const ldconfig = ['/sbin/ldconfig', '/usr/sbin/ldconfig'].find((p) => existsSync(p))
  it.if(existsSync('/etc/ld.so.cache') && ldconfig !== undefined)('is read as `ldconfig -p` prints it: the same paths', () => {
    const out = Bun.spawnSync([ldconfig!, '-p'], { stdout: 'pipe', env: {} }).stdout.toString()
    const printed = out.split('\n').flatMap((l) => { const m = / => (\/\S+)$/.exec(l); return m ? [m[1]!] : [] })
    expect(printed.length).toBeGreaterThan(0)
    expect([...new Set(parseLdCache(readFileSync('/etc/ld.so.cache')))].sort()).toEqual([...new Set(printed)].sort())
  })
  it('a truncated, empty or foreign cache lists nothing (never a throw)', () => {
    const real = existsSync('/etc/ld.so.cache') ? readFileSync('/etc/ld.so.cache') : Buffer.alloc(0)
    for (const b of [Buffer.alloc(0), real.subarray(0, 40), real.subarray(0, 60), Buffer.from('not a cache at all, at least 48 bytes long...........')]) {
      expect(parseLdCache(b)).toEqual([])
    }
  })
  it('the system directories hold the libraries of a system program, and every cached library\'s directory', () => {
    const { dirs } = systemLibraryDirs()
    expect(dirs.has(dirname(realpathSync('/lib64/ld-linux-x86-64.so.2')))).toBe(true)
    for (const p of existsSync('/etc/ld.so.cache') ? parseLdCache(readFileSync('/etc/ld.so.cache')) : []) {
      const d = realpathSync(dirname(p))
      if (rootHeld(d)) expect(dirs.has(d)).toBe(true)
    }
    expect(dirs.has(dir)).toBe(false)
    expect(dirs.has(realpathSync(tmpdir()))).toBe(false)
  })
})

describe('where a library may come from', () => {
  const sys = join(dir, 'sys')
  const own = join(dir, 'plugin')
  const elsewhere = join(dir, 'elsewhere')
  for (const d of [sys, own, join(own, 'lib'), elsewhere]) mkdirSync(d, { recursive: true })
  const dirs = new Set([sys])
  it('a system directory, or inside the plugin\'s own directory: yes', () => {
    expect(libraryPlaceProblem(join(sys, 'libx.so'), undefined, dirs)).toBeUndefined()
    expect(libraryPlaceProblem(join(own, 'lib', 'libx.so'), own, dirs)).toBeUndefined()
  })
  it('a subdirectory of a system directory, a sibling named like the plugin\'s directory, anywhere else: no', () => {
    expect(libraryPlaceProblem(join(sys, 'private', 'libx.so'), undefined, dirs)).toMatch(/neither in a system library directory/)
    expect(libraryPlaceProblem(`${own}x/libx.so`, own, dirs)).toMatch(/nor inside the plugin's directory/)
    expect(libraryPlaceProblem(join(elsewhere, 'libx.so'), own, dirs)).toBeDefined()
    expect(libraryPlaceProblem('/libx.so', '/', dirs)).toBeDefined()
  })
  it('a symlink in a system directory is judged where it leads (the pin is canonical)', () => {
    writeFileSync(join(elsewhere, 'libreal.so'), '', { mode: 0o755 })
    symlinkSync(join(elsewhere, 'libreal.so'), join(sys, 'liblink.so'))
    const pin = pinFile(join(sys, 'liblink.so'), 'program')
    expect(pin).toMatchObject({ path: join(elsewhere, 'libreal.so') })
    expect(libraryPlaceProblem((pin as { path: string }).path, own, dirs)).toBeDefined()
  })
  it('a directory is root-held only when it and all above it are root\'s and writable by no one else', () => {
    expect(rootHeld(dirname(realpathSync('/lib64/ld-linux-x86-64.so.2')))).toBe(true)
    // Under the world-writable temp directory: never.
    expect(rootHeld(sys)).toBe(false)
  })
})
