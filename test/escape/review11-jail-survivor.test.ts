/**
 * Review 11, finding "the installer's processes outlive the install": the engine waits for the jail's exit and the
 * end of its pipes, then takes the tree back (ownTree, chmodTree) and renames it into the cache. Nothing kills what
 * the installer started: a child that closed its stdio and was orphaned keeps running as nobody, in the jail's
 * Landlock domain but with TCP 443/80, for as long as it likes. It races the engine's root walks (the installer may
 * leave staging 0777: lchown keeps the mode, and chmodTree resets the top directory last, so the survivor may swap an
 * entry for a link between chmodTree's lstat and its chmod/readdir — a chmod of host files as root), and a file it
 * opened for writing before ownTree stays writable after the rename: it rewrites the "made once, then only read" cache
 * entry that every later task with the same list runs.
 *
 * Here: the installer backgrounds a `sleep` with its stdio on /dev/null; once ensureInstalled has returned, no process
 * of the install is left.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { cacheRoot, installWith, rootEngine } from './review11-jail.ts'

const root = cacheRoot('survivor')
let pid = 0
afterAll(() => {
  if (pid > 0) try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
  rmSync(root, { recursive: true, force: true })
})

describe.if(rootEngine)('review 11: no process of an install outlives it', () => {
  it('a backgrounded child of the installer is gone when the install returns', async () => {
    const dir = await installWith(root, `
const r = Bun.spawnSync(['/bin/sh', '-c', 'sleep 600 </dev/null >/dev/null 2>&1 & echo $! > survivor.pid'])
if (r.exitCode !== 0) process.exit(1)
`, 'survivor')
    pid = Number(readFileSync(join(dir, 'survivor.pid'), 'utf8').trim())
    expect(pid).toBeGreaterThan(0)
    const alive = existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))
    expect(alive).toBe(false)
  }, 60_000)
})
