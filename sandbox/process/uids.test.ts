/** Unit tests: uid leases are unique across threads and processes, come back when released or when the holder dies. */

import { afterAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { leaseUid } from './uids.ts'

const dir = join(mkdtempSync(join(tmpdir(), 'ak-uids-')), 'locks')
afterAll(() => rmSync(join(dir, '..'), { recursive: true, force: true }))
const range = { start: 991_000, count: 3 }

describe('uid leases', () => {
  it('hands out each uid of the range once, refuses when all are held, and takes a released one back', () => {
    const held = [leaseUid(range, dir), leaseUid(range, dir), leaseUid(range, dir)]
    expect(new Set(held.map((l) => l.uid))).toEqual(new Set([991_000, 991_001, 991_002]))
    expect(held.every((l) => l.gid === 991_000)).toBe(true)
    expect(() => leaseUid(range, dir)).toThrow(/no free sandbox uid.*raise sandbox.uidRange.count/)
    held[1]!.release()
    held[1]!.release() // idempotent
    const again = leaseUid(range, dir)
    expect(again.uid).toBe(held[1]!.uid)
    for (const l of [held[0]!, held[2]!, again]) l.release()
  })
  it('is unique across processes, and a dead holder gives its uid back', async () => {
    const one = { start: 991_100, count: 1 }
    const child = Bun.spawn(['bun', '-e', `
      const { leaseUid } = await import(${JSON.stringify(join(import.meta.dir, 'uids.ts'))})
      const l = leaseUid(${JSON.stringify(one)}, ${JSON.stringify(dir)})
      console.log(l.uid)
      await new Promise(() => {})`], { stdout: 'pipe', stderr: 'inherit' })
    const reader = child.stdout.getReader()
    const first = new TextDecoder().decode((await reader.read()).value)
    expect(first.trim()).toBe('991100')
    expect(() => leaseUid(one, dir)).toThrow(/no free sandbox uid/)
    child.kill('SIGKILL')
    await child.exited
    const mine = leaseUid(one, dir)
    expect(mine.uid).toBe(991_100)
    mine.release()
  })
  it('refuses a range that overlaps ids in use on the host (here: nobody, 65534)', () => {
    expect(() => leaseUid({ start: 65_500, count: 100 }, dir)).toThrow(/overlaps ids already in use.*nobody/)
  })
})
