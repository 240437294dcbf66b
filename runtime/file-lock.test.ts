/** Tests for the flock-based lock file: exclusive across processes and descriptors, gone with its holder, private. */

import { afterAll, describe, expect, it } from 'bun:test'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { AppError } from './errors.ts'
import { tryLockFile } from './file-lock.ts'

const dir = mkdtempSync(join(tmpdir(), 'ak-file-lock-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Whether another process can take the lock right now (util-linux `flock -n`, a different implementation). */
async function freeElsewhere(file: string): Promise<boolean> {
  const p = Bun.spawn(['flock', '-n', file, 'true'], { stdout: 'ignore', stderr: 'ignore' })
  return (await p.exited) === 0
}

describe('tryLockFile', () => {
  it('excludes other processes and other descriptors in this one until released', async () => {
    const file = join(dir, 'a.lock')
    const lock = tryLockFile(file, 'test lock')!
    expect(lock).toBeDefined()
    expect(await freeElsewhere(file)).toBe(false)
    expect(tryLockFile(file, 'test lock')).toBeUndefined()
    lock.describe('{"pid":1}\n')
    lock.describe('{"pid":2}\n') // replaces, never appends
    expect(readFileSync(file, 'utf8')).toBe('{"pid":2}\n')
    expect(statSync(file).mode & 0o777).toBe(0o600)
    lock.release()
    lock.release() // idempotent
    expect(await freeElsewhere(file)).toBe(true)
    const again = tryLockFile(file, 'test lock')
    expect(again).toBeDefined()
    again!.release()
  })

  it('is dropped by the kernel when its holder is killed with -9 (no stale lock to clean up)', async () => {
    const file = join(dir, 'b.lock')
    const child = Bun.spawn(['bun', '-e', `const { tryLockFile } = await import(${JSON.stringify(resolve(import.meta.dir, 'file-lock.ts'))});
      const l = tryLockFile(${JSON.stringify(file)}, 'test lock'); console.log(l ? 'locked' : 'busy'); setInterval(() => {}, 1000)`],
    { stdout: 'pipe', stderr: 'inherit' })
    const reader = child.stdout.getReader()
    let out = ''
    while (!out.includes('\n')) { const { value, done } = await reader.read(); if (done) break; out += new TextDecoder().decode(value) }
    expect(out.trim()).toBe('locked')
    expect(tryLockFile(file, 'test lock')).toBeUndefined()
    child.kill('SIGKILL')
    await child.exited
    const lock = tryLockFile(file, 'test lock')
    expect(lock).toBeDefined()
    lock!.release()
  })

  it('is close-on-exec, so no program the engine executes inherits it (and keeps it after the engine died)', () => {
    const file = join(dir, 'c.lock')
    const lock = tryLockFile(file, 'test lock')!
    // Bun.spawn closes stray descriptors itself; execve from FFI (the sandbox launcher) or another spawner may not.
    const fds = readdirSync('/proc/self/fd').filter((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`) === file } catch { return false } })
    expect(fds).toHaveLength(1)
    const flags = parseInt(/flags:\s*([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fds[0]}`, 'utf8'))![1]!, 8)
    expect(flags & 0o2000000).toBe(0o2000000) // O_CLOEXEC
    lock.release()
  })

  it('refuses a symbolic link, a directory and a FIFO in place of the lock file, with INVALID_CONFIG', () => {
    const target = join(dir, 'elsewhere')
    writeFileSync(target, '')
    symlinkSync(target, join(dir, 'link.lock'))
    mkdirSync(join(dir, 'dir.lock'))
    Bun.spawnSync(['mkfifo', join(dir, 'fifo.lock')])
    for (const name of ['link.lock', 'dir.lock']) {
      let code = ''
      try { tryLockFile(join(dir, name), 'test lock')?.release() } catch (e) { code = (e as AppError).code }
      expect(`${name}:${code}`).toBe(`${name}:INVALID_CONFIG`)
    }
    // A FIFO opened O_RDWR does not block; it is then refused as not a regular file.
    let code = ''
    try { tryLockFile(join(dir, 'fifo.lock'), 'test lock')?.release() } catch (e) { code = (e as AppError).code }
    expect(code).toBe('INVALID_CONFIG')
  })
})
