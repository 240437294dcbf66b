import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, closeSync, lstatSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openPinned } from './fd-pin.ts'
import { pinFile, sharedLibraries } from './exec-files.ts'
import { pinCanonical, pinDrift } from '../plugins/path-pin.ts'
import { AppError } from '../../runtime/errors.ts'
import { craftElf } from '../../test/helpers/elf-craft.ts'

let root: string
beforeAll(() => { root = realpathSync(mkdtempSync(join(tmpdir(), 'ak-fdpin-'))) })
afterAll(() => { if (root) rmSync(root, { recursive: true, force: true }) })

describe('openPinned: one resolution of a name', () => {
  it('pins what a symlink leads to by the target\'s canonical path and inode, both from the one descriptor', () => {
    const d = join(root, 'a'); mkdirSync(d)
    writeFileSync(join(d, 'lib.so'), 'x')
    symlinkSync(join(d, 'lib.so'), join(root, 'link'))
    const r = openPinned(join(root, 'link'))
    if (r.kind !== 'opened') throw new Error(r.kind)
    closeSync(r.opened.fd)
    const st = lstatSync(join(d, 'lib.so'), { bigint: true })
    expect(r.opened.pin).toEqual({ path: join(d, 'lib.so'), dev: String(st.dev), ino: String(st.ino) })
    expect(pinDrift(r.opened.pin)).toBeUndefined()
  })

  it('a FIFO is pinned without blocking (O_PATH opens nothing), and is not a regular file', () => {
    Bun.spawnSync(['mkfifo', join(root, 'fifo')])
    const r = openPinned(join(root, 'fifo'))
    if (r.kind !== 'opened') throw new Error(r.kind)
    closeSync(r.opened.fd)
    expect({ file: r.opened.st.isFile(), fifo: r.opened.st.isFIFO() }).toEqual({ file: false, fifo: true })
  })

  it('ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG are absent, never a throw; pinFile, pinCanonical and pinDrift say so too', () => {
    writeFileSync(join(root, 'plain'), 'x')
    symlinkSync('loop', join(root, 'loop'))
    for (const p of [join(root, 'none'), join(root, 'plain', 'x'), join(root, 'loop', 'x'), join(root, 'x'.repeat(300))]) {
      expect({ p, r: openPinned(p).kind }).toEqual({ p, r: 'absent' })
      expect({ p, r: pinFile(p, 'program') }).toEqual({ p, r: { problem: 'is gone' } })
      expect(pinCanonical(p)).toBeUndefined()
      expect(typeof pinDrift({ path: p, dev: '1', ino: '1' })).toBe('string')
    }
  })
})

describe('the closure\'s work budget', () => {
  it('a refusal for too much work is cached by identity (the same refusal, not worked out again) until a library read before it changes', async () => {
    const own = join(root, 'budget'); mkdirSync(own)
    const long = (k: number): string => `$ORIGIN/${'./'.repeat(1900 - (k % 500))}libleaf.so`
    writeFileSync(join(own, 'entry'), craftElf({ type: 3, needed: Array.from({ length: 4 }, (_, i) => `$ORIGIN/libo${i}.so`) }))
    chmodSync(join(own, 'entry'), 0o755)
    for (let i = 0; i < 4; i++) writeFileSync(join(own, `libo${i}.so`), craftElf({ needed: Array.from({ length: 500 }, (_, k) => long(k)), soname: `libo${i}.so` }))
    writeFileSync(join(own, 'libleaf.so'), craftElf({ soname: 'libleaf.so' }))
    // Every file's ctime before the list starts (the closure lists a file changed within 50 ms again).
    await Bun.sleep(120)
    const refusal = (): AppError => {
      try { sharedLibraries(pinCanonical(join(own, 'entry'))!, own) } catch (e) { if (e instanceof AppError) return e; throw e }
      throw new Error('granted')
    }
    const first = refusal()
    expect({ code: first.code, problem: (first.details as { problem?: string }).problem }).toEqual({ code: 'UNSAFE_EXECUTABLE', problem: 'too much searching' })
    expect(refusal()).toBe(first)
    chmodSync(join(own, 'libo0.so'), 0o644)
    await Bun.sleep(120)
    const again = refusal()
    expect(again).not.toBe(first)
    expect(again.code).toBe('UNSAFE_EXECUTABLE')
  })
})
