/**
 * The liveness lock (review 2, "liveness judged by a pid that may not be visible"): alive while held by any process,
 * gone once its holder died on this kernel (or on this machine before its boot), unknown for everything that proves
 * nothing — no file, a planted symbolic link, FIFO or directory (never blocking), another machine's free lock, or a
 * holder that never said where it ran.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { holdLivenessLock, hostIdentity, probeLiveness } from './liveness-lock.ts'

const dir = mkdtempSync(join(tmpdir(), 'ak-liveness-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A child process that holds `file`'s liveness lock until killed. */
async function holder(file: string) {
  const child = Bun.spawn(['bun', '-e', `const { holdLivenessLock } = await import(${JSON.stringify(resolve(import.meta.dir, 'liveness-lock.ts'))});
    console.log(holdLivenessLock(${JSON.stringify(file)}, 'test lock') ? 'held' : 'busy'); setInterval(() => {}, 1 << 30)`], { stdout: 'pipe', stderr: 'inherit' })
  const reader = child.stdout.getReader()
  let out = ''
  while (!out.includes('\n')) { const { value, done } = await reader.read(); if (done) break; out += new TextDecoder().decode(value) }
  reader.releaseLock()
  expect(out.trim()).toBe('held')
  return child
}

describe('liveness lock', () => {
  it('is alive while another process holds it, gone once that process was killed with -9, and gone-handling runs under the lock', async () => {
    const file = join(dir, 'a.lock')
    const child = await holder(file)
    try {
      expect(probeLiveness(file)).toBe('alive')
      expect(holdLivenessLock(file, 'test lock')).toBeUndefined()
    } finally {
      child.kill('SIGKILL')
      await child.exited
    }
    let whileHeld: string | undefined
    expect(probeLiveness(file, () => { whileHeld = probeLiveness(file) })).toBe('gone')
    expect(whileHeld).toBe('alive') // the probe held the dead holder's lock while its callback ran
  })

  it('this process\'s own lock is alive to a probe from this process too (another open file description)', () => {
    const file = join(dir, 'own.lock')
    const lock = holdLivenessLock(file, 'test lock')!
    expect(probeLiveness(file)).toBe('alive')
    lock.release()
    expect(probeLiveness(file)).toBe('gone')
  })

  it('says unknown, without blocking, for what proves nothing: missing, symbolic link, FIFO, directory', () => {
    const real = join(dir, 'real.lock')
    holdLivenessLock(real, 'test lock')!.release() // a free lock of this kernel: a link to it must still prove nothing
    symlinkSync(real, join(dir, 'link.lock'))
    Bun.spawnSync(['mkfifo', join(dir, 'fifo.lock')])
    mkdirSync(join(dir, 'dir.lock'))
    expect(['missing.lock', 'link.lock', 'fifo.lock', 'dir.lock'].map((n) => `${n}:${probeLiveness(join(dir, n))}`))
      .toEqual(['missing.lock:unknown', 'link.lock:unknown', 'fifo.lock:unknown', 'dir.lock:unknown'])
    expect(existsSync(join(dir, 'missing.lock'))).toBe(false) // a probe never creates the file
  })

  it('judges a free lock by where it was held: this machine before its boot is gone, another machine or no word is unknown', () => {
    const me = hostIdentity()
    const cases = {
      earlierBoot: { machine: me.machine, boot: 'an-earlier-boot', pid: 1 },
      otherMachine: { machine: 'another-machine', boot: 'its-boot', pid: 1 },
      sameBootOtherMachineName: { machine: 'a-container-without-machine-id', boot: me.boot, pid: 1 },
    }
    const seen: Record<string, string> = {}
    for (const [name, info] of Object.entries(cases)) {
      writeFileSync(join(dir, `${name}.lock`), JSON.stringify(info), { mode: 0o600 })
      seen[name] = probeLiveness(join(dir, `${name}.lock`))
    }
    writeFileSync(join(dir, 'silent.lock'), '', { mode: 0o600 })
    seen.silent = probeLiveness(join(dir, 'silent.lock'))
    // Same kernel (boot id), whatever the machine id says (a container has its own or none): flock is the kernel's.
    expect(seen).toEqual({ earlierBoot: 'gone', otherMachine: 'unknown', sameBootOtherMachineName: 'gone', silent: 'unknown' })
  })
})
