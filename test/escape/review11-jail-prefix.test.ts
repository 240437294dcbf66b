/**
 * Review 11, finding "a program's prefix can be its user's home": jailFor grants read + execute on the install prefix
 * of the installer's program and of the engine's binary, taken as whatever is above a `bin/` directory. A program in
 * `~/bin/` (a user's own Bun or Python, an engine binary dropped there) makes that prefix the whole home: on an engine
 * that is not root — Landlock alone, the engine's uid — the installer reads the engine user's SSH keys, registry
 * tokens, shell history and any data directory under the home, and has TCP 443 to send them anywhere.
 *
 * Here: the engine side runs as an unprivileged uid (setpriv) whose home ($HOME) holds `.ssh/id_ed25519` (0600, its own) and
 * whose installer program is `~/bin/bun` (a hard link of the real Bun). The installer must not read the key.
 *
 * Fixed (dependencies.ts jailFor): a prefix that is a home or above one gives only the program's directory.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { chownSync, linkSync, mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cacheRoot, rootEngine } from './review11-jail.ts'

const UID = 12_348
const can = rootEngine && Bun.which('setpriv') !== null
const root = cacheRoot('prefix')
const home = cacheRoot('prefix-home')
afterAll(() => { rmSync(root, { recursive: true, force: true }); rmSync(home, { recursive: true, force: true }) })

describe.if(can)('review 11: the installer\'s program prefix is not its user\'s home', () => {
  it('a non-root engine\'s installer run from ~/bin cannot read ~/.ssh', async () => {
    chownSync(root, UID, UID)
    mkdirSync(join(home, 'bin'))
    linkSync(realpathSync(process.execPath), join(home, 'bin', 'bun'))
    mkdirSync(join(home, '.ssh'), { mode: 0o700 })
    writeFileSync(join(home, '.ssh', 'id_ed25519'), 'PRIVATE KEY', { mode: 0o600 })
    for (const p of [home, join(home, '.ssh'), join(home, '.ssh', 'id_ed25519')]) chownSync(p, UID, UID)
    const installer = `
let r = 'refused'
try { require('node:fs').readFileSync(${JSON.stringify(join(home, '.ssh', 'id_ed25519'))}); r = 'read' } catch {}
require('node:fs').writeFileSync('report.txt', r)
`
    const script = `
const { installWith } = await import(${JSON.stringify(join(import.meta.dir, 'review11-jail.ts'))})
const dir = await installWith(${JSON.stringify(root)}, ${JSON.stringify(installer)}, 'prefix', ${JSON.stringify(join(home, 'bin', 'bun'))})
console.log(await Bun.file(dir + '/report.txt').text())`
    const p = Bun.spawn(['setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', process.execPath, '-e', script], { stdout: 'pipe', stderr: 'pipe', stdin: 'ignore', env: { ...process.env, HOME: home } })
    const [out, err, code] = [await new Response(p.stdout).text(), await new Response(p.stderr).text(), await p.exited]
    expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' })
    expect(out.trim()).toBe('refused')
  }, 60_000)
})
