/**
 * `core/git-source.checkout` over SSH end to end: a private sshd on 127.0.0.1 (test/helpers/ssh-server.ts) serving
 * the bare repository of test/helpers/git-server.ts, the client key and the known-hosts line as secrets, and ssh run
 * by git inside the plugin's full sandbox. The host key check is strict: a known_hosts line for another key is
 * GIT_FAILED (auth) before any login; the private key is found nowhere the engine keeps things.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { readFileSync } from 'node:fs'
import { resolveMasterKey } from '../runtime/secrets/key.ts'
import { SecretStore } from '../runtime/secrets/store.ts'
import { startTestEngine, type TestEngine, runWorkflow } from './helpers/engine.ts'
import { startGitServer, type GitFixture } from './helpers/git-server.ts'
import { mustRunSshd, sshdProblem, startSshServer, type SshFixture } from './helpers/ssh-server.ts'

const describeSsh: typeof describe = mustRunSshd ? describe : describe.skip

describeSsh('core/git-source.checkout over ssh (a real sshd)', () => {
  let t: TestEngine
  let g: GitFixture
  let s: SshFixture
  /** The key's body lines (base64), each a thing that must not be kept anywhere. */
  let keyLines: string[]

  beforeAll(async () => {
    if (sshdProblem) throw new Error(`CI=true and ${sshdProblem}`)
    g = startGitServer('unused-token')
    s = await startSshServer(g.root)
    keyLines = s.clientKey.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))
    t = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ network: [`127.0.0.1:${s.port}`] }) })
    const secrets = new SecretStore(t.engine.store.secrets, resolveMasterKey({ env: process.env, keyFile: t.config.secrets.keyFile }).key)
    await secrets.set('SSH_KEY', s.clientKey)
    await secrets.set('KNOWN_HOSTS', s.knownHosts)
    await secrets.set('OTHER_HOSTS', s.otherKnownHosts)
  })
  afterAll(async () => { await t?.close(); await s?.close(); g?.close() })

  const wf = (id: string, hosts: string, ref = '') => `
id: ${id}
secrets: [SSH_KEY, ${hosts}]
tasks:
  - id: checkout
    type: core/git-source.checkout
    inputs:
      repoUrl: "${s.url()}"${ref ? `\n      ref: ${ref}` : ''}
      auth: { method: ssh, privateKey: "{{ secrets.SSH_KEY }}", knownHosts: "{{ secrets.${hosts} }}" }
  - id: read
    type: core/bash.exec
    needs: checkout
    permissions: { run: [cat] }
    inputs:
      command: cat README.md
      cwd: "{{ tasks.checkout.output.workspacePath }}"
`

  const noKeyAnywhere = (r: Awaited<ReturnType<typeof runWorkflow>>) => {
    const everything = JSON.stringify({ runs: r.runs, logs: r.logs, audit: r.audit, done: r.done })
    for (const line of keyLines) expect(everything).not.toContain(line)
    const db = readFileSync(t.dbPath)
    for (const line of keyLines) expect(db.includes(Buffer.from(line))).toBe(false)
  }

  it('the right known_hosts: SUCCESS, the expected commit, the tree handed on; the key is nowhere', async () => {
    const r = await run(wf('git-ssh-ok', 'KNOWN_HOSTS'))
    expect(r.runs.checkout!.error).toBeUndefined()
    expect(r.runs.checkout!.state).toBe('SUCCESS')
    expect(r.runs.checkout!.output).toMatchObject({ success: true, workspacePath: 'workspace-checkout', repoUrl: s.url(), ref: 'HEAD', commit: g.commits.second })
    expect((r.runs.read!.output as { stdout: string }).stdout).toBe('second version\n')
    expect(r.done.state).toBe('SUCCESS')
    expect(s.log()).toContain(`Accepted publickey for ${s.user} from 127.0.0.1`)
    noKeyAnywhere(r)
  })

  it('a branch by name over ssh', async () => {
    const r = await run(wf('git-ssh-branch', 'KNOWN_HOSTS', 'feature'))
    expect(r.runs.checkout!.output).toMatchObject({ ref: 'feature', commit: g.commits.feature })
  })

  it('a known_hosts line of another host key: GIT_FAILED (auth, host key refused) before any login; the key is nowhere', async () => {
    const logins = s.log().split('Accepted publickey').length
    const r = await run(wf('git-ssh-wrong-host', 'OTHER_HOSTS'))
    expect(r.done.state).toBe('FAILED')
    const c = r.runs.checkout!
    expect(c.state).toBe('FAILED')
    expect(c.error).toMatchObject({ code: 'GIT_FAILED', details: { reason: 'auth' } })
    expect(c.error!.message).toContain('git fetch failed (auth)')
    expect(JSON.stringify(r.logs)).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/)
    expect(c.output).toBeUndefined()
    expect(r.runs.read!.state).not.toBe('SUCCESS')
    // No login happened: ssh refused the host key before it offered the client key.
    expect(s.log().split('Accepted publickey').length).toBe(logins)
    noKeyAnywhere(r)
  })

  const run = (yaml: string) => runWorkflow(t, yaml)
})
