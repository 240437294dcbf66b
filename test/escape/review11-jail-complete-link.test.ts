/**
 * Review 11, finding "the engine writes .complete through the installer's link": after the installer exits,
 * dependencies.ts writes `<staging>/.complete` with writeFileSync, as root, and writeFileSync follows a symbolic link.
 * The installer (nobody, in its jail) owns the staging directory and may leave anything in it: a `.complete` that is a
 * link to any host path. ownTree lchowns the link, chmodTree skips it, and the engine then truncates the link's
 * target and writes the install's label into it — /etc/passwd, /etc/shadow, /etc/ld.so.preload (the label of a pip
 * list of local wheels is their host paths) — a root write anywhere from inside the jail.
 *
 * Here: a 0600 root file in a 0700 root directory (nobody cannot even name it for reading) keeps its content.
 *
 * Fixed (dependencies.ts): `.complete` is removed first (never followed) and made with O_EXCL.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cacheRoot, installWith, rootEngine } from './review11-jail.ts'

const root = cacheRoot('complete')
const host = cacheRoot('complete-host')
afterAll(() => { rmSync(root, { recursive: true, force: true }); rmSync(host, { recursive: true, force: true }) })

describe.if(rootEngine)('review 11: the engine never writes through a link the installer left', () => {
  it('a .complete link to a root-only host file leaves the file as it was', async () => {
    mkdirSync(join(host, 'private'), { mode: 0o700 })
    const victim = join(host, 'private', 'victim')
    writeFileSync(victim, 'original')
    chmodSync(victim, 0o600)
    chmodSync(host, 0o700)
    await installWith(root, `require('node:fs').symlinkSync(${JSON.stringify(victim)}, '.complete')`, 'complete').catch(() => undefined)
    expect(readFileSync(victim, 'utf8')).toBe('original')
  }, 60_000)
})
