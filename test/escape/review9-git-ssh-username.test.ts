/**
 * Review 9, finding "ssh username in a shell": core/git-source builds GIT_SSH_COMMAND by joining its words with
 * spaces, `-l <auth.username>` among them, and git runs GIT_SSH_COMMAND through `sh -c` (sh is in the plugin's
 * grant for that). auth.username is a free string of the task's input (a template may fill it from a trigger's
 * data), so `$(…)` in it is a command the sandboxed shell runs: here `git ls-remote` of a host the grant does not
 * name, on the granted port (the kernel holds only the port: docs/security.md#known-gaps) — the engine's host check
 * of repoUrl is walked around.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { resolveMasterKey } from '../../runtime/secrets/key.ts'
import { SecretStore } from '../../runtime/secrets/store.ts'
import { runWorkflow, startTestEngine, type TestEngine } from '../helpers/engine.ts'

let t: TestEngine
let granted: ReturnType<typeof Bun.serve>
let other: ReturnType<typeof Bun.serve>
const reached: string[] = []

beforeAll(async () => {
  for (let i = 0; i < 20 && !other; i++) {
    const a = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('no', { status: 404 }) })
    try {
      other = Bun.serve({ hostname: '127.0.0.2', port: a.port!, fetch: (req) => { reached.push(new URL(req.url).pathname); return new Response('no', { status: 404 }) } })
      granted = a
    } catch { a.stop(true) }
  }
  t = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ network: [`127.0.0.1:${granted.port}`] }) })
  const secrets = new SecretStore(t.engine.store.secrets, resolveMasterKey({ env: process.env, keyFile: t.config.secrets.keyFile }).key)
  await secrets.set('SSH_KEY', '-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-key\n-----END OPENSSH PRIVATE KEY-----')
})
afterAll(async () => { await t?.close(); granted?.stop(true); other?.stop(true) })

describe('review 9: auth.username of an ssh checkout', () => {
  it('is never run as shell', async () => {
    const port = granted.port
    const r = await runWorkflow(t, `
id: r9-ssh-username
secrets: [SSH_KEY]
tasks:
  - id: checkout
    type: core/git-source.checkout
    inputs:
      repoUrl: "ssh://127.0.0.1:${port}/repo.git"
      auth:
        method: ssh
        privateKey: "{{ secrets.SSH_KEY }}"
        knownHosts: "[127.0.0.1]:${port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
        username: "x$(git ls-remote http://127.0.0.2:${port}/r9-injected.git >&2 2>&1; echo R9-INJECTED-$((6*7)) >&2)"
`)
    const text = JSON.stringify({ logs: r.logs, error: r.runs.checkout!.error })
    expect(reached).toEqual([])
    expect(text).not.toContain('R9-INJECTED-42')
    expect(r.runs.checkout!.state).toBe('FAILED')
  })
})
