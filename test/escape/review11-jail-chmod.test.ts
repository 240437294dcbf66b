/**
 * Review 11, finding "a non-root engine's installer chmods the engine's files": Landlock has no right for chmod,
 * chown or utimes, and the jail has no seccomp filter (the task sandbox's `setid-bits`/path-chmod filter, which
 * non-root-engine.test.ts pins for plugins). On an engine that is not root the installer keeps the engine's uid, so
 * it may chmod any file of the engine's by path — its database, its secrets key — 0644, for any local user to read.
 *
 * Here: the engine side runs as an unprivileged uid (setpriv); a 0600 file of that uid in a 0700 directory of its
 * own stands for the engine's key. Its mode must stay 0600.
 *
 * Fixed (installer-jail.ts): the task sandbox's seccomp filter, without chmod by path when the uid is shared.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { chownSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cacheRoot, rootEngine } from './review11-jail.ts'

const UID = 12_349
const can = rootEngine && Bun.which('setpriv') !== null
const root = cacheRoot('chmod')
const data = cacheRoot('chmod-data')
afterAll(() => { rmSync(root, { recursive: true, force: true }); rmSync(data, { recursive: true, force: true }) })

describe.if(can)('review 11: the installer changes no mode of the engine\'s files', () => {
  it('a non-root engine\'s installer cannot chmod the engine\'s 0600 key', async () => {
    chownSync(root, UID, UID)
    mkdirSync(join(data, 'private'), { mode: 0o700 })
    const key = join(data, 'private', 'secrets.key')
    writeFileSync(key, 'KEY', { mode: 0o600 })
    for (const p of [data, join(data, 'private'), key]) chownSync(p, UID, UID)
    const installer = `try { require('node:fs').chmodSync(${JSON.stringify(key)}, 0o644) } catch {}`
    const script = `
const { installWith } = await import(${JSON.stringify(join(import.meta.dir, 'review11-jail.ts'))})
await installWith(${JSON.stringify(root)}, ${JSON.stringify(installer)}, 'chmod')`
    const p = Bun.spawn(['setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', process.execPath, '-e', script], { stdout: 'pipe', stderr: 'pipe', stdin: 'ignore' })
    const [err, code] = [await new Response(p.stderr).text(), await p.exited]
    expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' })
    expect((statSync(key).mode & 0o777).toString(8)).toBe('600')
  }, 60_000)
})
