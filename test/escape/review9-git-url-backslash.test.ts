/**
 * Review 9, finding "git URL backslash": `parseRemote` (runtime/workflow/tasks/git-url.ts) judges a repoUrl's host
 * with the WHATWG URL parser, for which `\` ends the authority of an http(s) URL; git and curl do not, and read
 * what comes before the last `@` as user info. So `http://granted.invalid:<port>\@127.0.0.1:<port>/repo.git` is
 * `granted.invalid:<port>` to the engine (the grant it derives, what checkRemotes compares with the grant) and
 * `127.0.0.1:<port>` to git. The kernel holds only the port (docs/security.md#known-gaps), so git reaches a host the
 * grant does not name, with the task's token in its `http.extraHeader`. A hostile value of a templated repoUrl (a
 * trigger's input) sends the workflow's token to the attacker's host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { resolveMasterKey } from '../../runtime/secrets/key.ts'
import { SecretStore } from '../../runtime/secrets/store.ts'
import { parseRemote } from '../../runtime/workflow/tasks/git-url.ts'
import { runWorkflow, startTestEngine, type TestEngine } from '../helpers/engine.ts'
import { startGitServer, type GitFixture } from '../helpers/git-server.ts'

const TOKEN = 'ghp-REVIEW9-backslash-5b2e7d'
let t: TestEngine
let g: GitFixture

beforeAll(async () => {
  g = startGitServer(TOKEN)
  // The operator opens one host (which never resolves) on the server's port: 127.0.0.1 is not granted.
  t = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ network: [`granted.invalid:${g.port}`] }) })
  const secrets = new SecretStore(t.engine.store.secrets, resolveMasterKey({ env: process.env, keyFile: t.config.secrets.keyFile }).key)
  await secrets.set('GIT_TOKEN', TOKEN)
})
afterAll(async () => { await t?.close(); g?.close() })

describe('review 9: a backslash in a repoUrl', () => {
  it('is refused: the engine and git must agree on the host', () => {
    const r = parseRemote(`http://granted.invalid:${g.port}\\@127.0.0.1:${g.port}/repo.git`)
    expect(r.ok).toBe(false)
  })

  it('a templated repoUrl whose value has one never reaches another host with the token', async () => {
    const before = g.requests.length
    const hostile = `http://granted.invalid:${g.port}\\\\@127.0.0.1:${g.port}/repo.git`
    const r = await runWorkflow(t, `
id: r9-backslash
inputs:
  url: { type: string, default: "${hostile}" }
secrets: [GIT_TOKEN]
tasks:
  - id: checkout
    type: core/git-source.checkout
    permissions: { network: ["granted.invalid:${g.port}"] }
    inputs: { repoUrl: "{{ inputs.url }}", auth: { method: token, token: "{{ secrets.GIT_TOKEN }}" } }
`)
    // What git reached: the server on 127.0.0.1, which the grant does not name, and with the token.
    expect(g.requests.slice(before)).toEqual([])
    expect(r.runs.checkout!.state).toBe('FAILED')
    expect(r.runs.checkout!.error?.code).toMatch(/^(INVALID_TASK_INPUT|PERMISSION_DENIED)$/)
  })
})
