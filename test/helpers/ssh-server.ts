/**
 * A real SSH git server for tests: a private `sshd` (Debian's openssh-server, /usr/sbin/sshd) on 127.0.0.1 and a
 * random port, with its own host key and one authorized key, a client key made for it by ssh-keygen. It serves the
 * bare repositories of test/helpers/git-server.ts (`root`) to the user running the tests: no system user is made.
 * A client logs in as that user and its login shell runs git's `git-upload-pack '<root>/repo.git'`.
 * Under CI=true a host without sshd is a failure of the test that asks for one (`sshdProblem`), never a skip.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const SSHD = '/usr/sbin/sshd'
/** Why this host cannot run the SSH tests, or undefined. */
export const sshdProblem: string | undefined = !existsSync(SSHD) ? `${SSHD} is missing (apt-get install -y --no-install-recommends openssh-server)`
  : !existsSync('/usr/bin/ssh-keygen') ? '/usr/bin/ssh-keygen is missing (openssh-client)' : undefined
/** Run the SSH tests: here when sshd exists; under CI=true always (they fail without it). */
export const mustRunSshd = sshdProblem === undefined || process.env.CI === 'true'

export interface SshFixture {
  port: number
  /** The login the server accepts (the user running the tests). */
  user: string
  /** `ssh://user@127.0.0.1:port/<root>/<repo>` */
  url(repo?: string): string
  /** The client's private key (OpenSSH format) and the server's host key as a known_hosts line for `[127.0.0.1]:port`. */
  clientKey: string
  knownHosts: string
  /** A known_hosts line for the same `[127.0.0.1]:port` naming another host key (one this server does not have). */
  otherKnownHosts: string
  /** sshd's log (-e: to stderr) so far: `Accepted publickey for …` is a login. */
  log(): string
  close(): Promise<void>
}

const keygen = (file: string, comment: string): void => {
  const r = Bun.spawnSync(['/usr/bin/ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { env: { PATH: '/usr/bin:/bin' } })
  if (r.exitCode !== 0) throw new Error(`ssh-keygen: ${r.stderr.toString()}`)
}

/** Waits (with a deadline) for the SSH banner on the port; false when sshd exited first or never answered. */
async function banner(port: number, exited: () => boolean, deadline: number): Promise<boolean> {
  while (Date.now() < deadline && !exited()) {
    const ok = await new Promise<boolean>((resolve) => {
      let got = ''
      Bun.connect({
        hostname: '127.0.0.1', port,
        socket: {
          data(s, d) { got += d.toString(); if (got.startsWith('SSH-')) { s.end(); resolve(true) } },
          close() { resolve(got.startsWith('SSH-')) },
          error() { resolve(false) },
          connectError() { resolve(false) },
        },
      }).catch(() => resolve(false))
    })
    if (ok) return true
    await Bun.sleep(50) // a poll interval, not a wait for state: the loop is bounded by the deadline
  }
  return false
}

/** A free port now (the kernel's choice), for sshd, which takes no port 0. */
const freePort = (): number => {
  const s = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const p = s.port
  s.stop(true)
  return p
}

export async function startSshServer(root: string): Promise<SshFixture> {
  if (sshdProblem) throw new Error(`no SSH server for the test: ${sshdProblem}`)
  const dir = mkdtempSync(join(tmpdir(), 'ak-sshd-'))
  keygen(join(dir, 'host_ed25519'), 'ak-test-host')
  keygen(join(dir, 'other_host_ed25519'), 'ak-test-other-host')
  keygen(join(dir, 'client_ed25519'), 'ak-test-client')
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_ed25519.pub')), { mode: 0o600 })
  // Bun's os.userInfo() says "unknown" for root here: ask id(1), which reads the passwd database.
  const user = Bun.spawnSync(['/usr/bin/id', '-un']).stdout.toString().trim()
  if (!/^[a-z_][a-z0-9_.-]*$/i.test(user)) throw new Error(`no login name for uid ${process.getuid?.()}`)
  // Root's sshd wants its privilege separation directory (made by the service on a normal boot).
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })
  const hostPub = (f: string) => readFileSync(join(dir, f), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ')
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort()
    writeFileSync(join(dir, 'sshd_config'), [
      `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_ed25519')}`, `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, `AllowUsers ${user}`, 'StrictModes no', 'UsePAM no',
      'PubkeyAuthentication yes', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PermitRootLogin prohibit-password',
      'AuthenticationMethods publickey', 'PrintMotd no', 'PermitUserEnvironment no', 'AllowTcpForwarding no', 'X11Forwarding no',
      'PermitTTY no', 'LogLevel INFO', '',
    ].join('\n'))
    const p = Bun.spawn([SSHD, '-D', '-e', '-f', join(dir, 'sshd_config')], { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } })
    let log = ''
    let exited = false
    void p.exited.then(() => { exited = true })
    void (async () => { for await (const c of p.stderr) log += Buffer.from(c).toString() })()
    if (!(await banner(port, () => exited, Date.now() + 10_000))) {
      p.kill('SIGKILL')
      await p.exited
      if (/Address already in use|Cannot bind/i.test(log)) continue
      rmSync(dir, { recursive: true, force: true })
      throw new Error(`sshd did not start: ${log.trim()}`)
    }
    return {
      port, user,
      url: (repo = 'repo.git') => `ssh://${user}@127.0.0.1:${port}${join(root, repo)}`,
      clientKey: readFileSync(join(dir, 'client_ed25519'), 'utf8'),
      knownHosts: `[127.0.0.1]:${port} ${hostPub('host_ed25519.pub')}`,
      otherKnownHosts: `[127.0.0.1]:${port} ${hostPub('other_host_ed25519.pub')}`,
      log: () => log,
      async close() { p.kill('SIGTERM'); await p.exited; rmSync(dir, { recursive: true, force: true }) },
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw new Error('sshd found no free port in 5 tries')
}
