/**
 * Issue 16, item 4: `core/git-source.checkout` on the real engine — a real git server (smart HTTP, `git http-backend`
 * behind Bun.serve on 127.0.0.1, token auth), git run in the process runner's full sandbox (network to the one
 * host:port of its grant, within sandbox.scriptPolicy), and the directory hand-off: the checked-out tree kept by the
 * engine and placed, read-only (or writable on request), where a later task's `cwd` names it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { readFileSync } from 'node:fs'
import { parseWorkflow } from '../runtime/workflow/parse.ts'
import { resolveMasterKey } from '../runtime/secrets/key.ts'
import { SecretStore } from '../runtime/secrets/store.ts'
import { startTestEngine, type TestEngine, runWorkflow } from './helpers/engine.ts'
import { startGitServer, type GitFixture } from './helpers/git-server.ts'

const TOKEN = 'ghp-TEST-4c1f9a27be0d5e83'
let t: TestEngine
let g: GitFixture

beforeAll(async () => {
  g = startGitServer(TOKEN)
  t = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ network: [`127.0.0.1:${g.port}`] }) })
  const secrets = new SecretStore(t.engine.store.secrets, resolveMasterKey({ env: process.env, keyFile: t.config.secrets.keyFile }).key)
  await secrets.set('GIT_TOKEN', TOKEN)
  await secrets.set('WRONG_TOKEN', 'wrong-7d1e0b39aa')
})
afterAll(async () => { await t?.close(); g?.close() })

const run = (yaml: string) => runWorkflow(t, yaml)
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const out = (r: { output?: unknown }): any => r.output

describe('core/git-source.checkout', () => {
  it('checks out the default branch; a bash.exec task reads it from cwd: workspacePath', async () => {
    const r = await run(`
apiVersion: v1
id: git-main
secrets: [GIT_TOKEN]
tasks:
  - id: checkout
    type: core/git-source.checkout
    inputs:
      repoUrl: ${g.url()}
      auth: { method: token, token: "{{ secrets.GIT_TOKEN }}" }
  - id: read
    type: core/bash.exec
    needs: checkout
    permissions: { run: [cat] }
    inputs:
      command: cat README.md app/main.txt
      cwd: "{{ tasks.checkout.output.workspacePath }}"
`)
    console.log(JSON.stringify(r.runs, null, 1).slice(0, 3000))
    console.log(r.logs.map((l) => `${l.taskId} ${l.level} ${l.message}`).join('\n'))
    expect(r.done.state).toBe('SUCCESS')
  })
})
