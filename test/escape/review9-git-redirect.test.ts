/**
 * Review 9, finding "git redirect": the git server the grant names may answer the first request with a redirect to
 * another host on the same port; git follows it (`http.followRedirects` defaults to `initial`) and then sends every
 * later request, with the task's `http.extraHeader` token, to the new host. The engine checks only the repoUrl it
 * rendered (actors/task/remotes.ts) and the kernel holds only the port (docs/security.md#known-gaps), so a hostile
 * or compromised server (or an open redirect on it) points the sandboxed git at any host on that port, and the
 * token goes along.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { resolveMasterKey } from '../../runtime/secrets/key.ts'
import { SecretStore } from '../../runtime/secrets/store.ts'
import { runWorkflow, startTestEngine, type TestEngine } from '../helpers/engine.ts'
import { startGitServer, type GitFixture } from '../helpers/git-server.ts'

const TOKEN = 'ghp-REVIEW9-redirect-9c4a1f'
let t: TestEngine
let g: GitFixture
let granted: ReturnType<typeof Bun.serve>
let other: ReturnType<typeof Bun.serve>
const reached: { path: string; auth: string | null }[] = []

/** The redirecting server on 127.0.0.1:<p>, and the other host on 127.0.0.2 with the same port <p>. */
function listenPair(): void {
  for (let i = 0; i < 20; i++) {
    const a = Bun.serve({
      hostname: '127.0.0.1', port: 0,
      fetch: (req) => {
        const u = new URL(req.url)
        return new Response(null, { status: 302, headers: { location: `http://127.0.0.2:${u.port}${u.pathname}${u.search}` } })
      },
    })
    try {
      other = Bun.serve({
        hostname: '127.0.0.2', port: a.port!,
        async fetch(req) {
          const u = new URL(req.url)
          reached.push({ path: u.pathname, auth: req.headers.get('authorization') })
          // The other host serves a repository of its own (here: relayed, authorized by itself), so git goes on.
          const headers = new Headers(req.headers)
          headers.set('authorization', `Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`)
          return fetch(`${g.url().replace(/\/repo\.git$/, '')}${u.pathname}${u.search}`, { method: req.method, headers, body: req.body })
        },
      })
      granted = a
      return
    } catch { a.stop(true) }
  }
  throw new Error('no port free on both 127.0.0.1 and 127.0.0.2')
}

beforeAll(async () => {
  g = startGitServer(TOKEN)
  listenPair()
  t = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ network: [`127.0.0.1:${granted.port}`] }) })
  const secrets = new SecretStore(t.engine.store.secrets, resolveMasterKey({ env: process.env, keyFile: t.config.secrets.keyFile }).key)
  await secrets.set('GIT_TOKEN', TOKEN)
})
afterAll(async () => { await t?.close(); granted?.stop(true); other?.stop(true); g?.close() })

describe('review 9: a redirect from the granted git server', () => {
  it('is not followed to another host', async () => {
    const r = await runWorkflow(t, `
id: r9-redirect
secrets: [GIT_TOKEN]
tasks:
  - id: checkout
    type: core/git-source.checkout
    inputs: { repoUrl: "http://127.0.0.1:${granted.port}/repo.git", auth: { method: token, token: "{{ secrets.GIT_TOKEN }}" } }
`)
    const basic = `Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`
    // What git did: followed to 127.0.0.2, then sent its git-upload-pack POSTs there with the task's token.
    expect(reached.filter((q) => q.auth === basic).map((q) => q.path)).toEqual([])
    expect(reached.map((q) => q.path)).toEqual([])
    expect(r.runs.checkout!.state).toBe('FAILED')
    expect(r.runs.checkout!.error?.code).toBe('GIT_FAILED')
  })
})
