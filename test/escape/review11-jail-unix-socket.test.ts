/**
 * Review 11, finding "the installer jail reaches pathname unix sockets": Landlock scopes abstract unix sockets and
 * signals (ABI 6, restrictSelf asks for both) but has no right for connect() to a pathname socket; the jail has no
 * seccomp filter and no network namespace (the task sandbox has both: `seccomp:unix-socket`, netns). On a root engine
 * the uid drop to nobody leaves the world-writable sockets (a system bus, /dev/log). On an engine that is not root the
 * installer keeps the engine's uid and groups, so every socket the engine may use is the installer's: docker.sock for
 * an engine in the docker group (the Docker plugin's access) is root on the host, from a package's install.
 *
 * Here: the engine side runs as an unprivileged uid (a child under setpriv, as non-root-engine.test.ts does); a
 * socket 0600 of that uid stands for what the engine may connect to. The installer must not get a byte to it.
 *
 * Fixed (installer-jail.ts): the task sandbox's seccomp filter, which refuses socket(AF_UNIX).
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { chmodSync, chownSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { cacheRoot, rootEngine } from './review11-jail.ts'

const UID = 12_346
const can = rootEngine && Bun.which('setpriv') !== null
const root = cacheRoot('unix')
const sockDir = cacheRoot('unix-sock')
const sock = join(sockDir, 'engine-only.sock')
afterAll(() => { rmSync(root, { recursive: true, force: true }); rmSync(sockDir, { recursive: true, force: true }) })

describe.if(can)('review 11: the installer reaches no unix socket of the engine\'s', () => {
  it('a non-root engine\'s installer cannot connect to a 0600 socket of the engine\'s uid', async () => {
    chownSync(root, UID, UID)
    let got = ''
    const server = Bun.listen({ unix: sock, socket: { data(_s, d) { got += d.toString() } } })
    chownSync(sock, UID, UID)
    chmodSync(sock, 0o600)
    const installer = `
let r = 'refused'
try {
  const s = await Bun.connect({ unix: ${JSON.stringify(sock)}, socket: { data() {} } })
  s.write('from-the-installer'); s.flush(); await Bun.sleep(200); s.end(); r = 'connected'
} catch {}
require('node:fs').writeFileSync('report.txt', r)
`
    const script = `
const { installWith } = await import(${JSON.stringify(join(import.meta.dir, 'review11-jail.ts'))})
const dir = await installWith(${JSON.stringify(root)}, ${JSON.stringify(installer)}, 'unix')
console.log(await Bun.file(dir + '/report.txt').text())`
    const p = Bun.spawn(['setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', process.execPath, '-e', script], { stdout: 'pipe', stderr: 'pipe', stdin: 'ignore' })
    const [out, err, code] = [await new Response(p.stdout).text(), await new Response(p.stderr).text(), await p.exited]
    server.stop(true)
    expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' })
    expect({ installer: out.trim(), server: got }).toEqual({ installer: 'refused', server: '' })
  }, 60_000)
})
