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

const checkout = (inputs: string, extra = '') => `
  - id: checkout
    type: core/git-source.checkout${extra}
    inputs:
      repoUrl: ${g.url()}
      auth: { method: token, token: "{{ secrets.GIT_TOKEN }}" }
${inputs}`

describe('core/git-source.checkout', () => {
  it('checks out the default branch; bash.exec reads it from cwd: workspacePath; a write into the tree is refused', async () => {
    const r = await run(`
apiVersion: v1
id: git-main
secrets: [GIT_TOKEN]
tasks:${checkout('')}
  - id: read
    type: core/bash.exec
    needs: checkout
    permissions: { run: [cat] }
    inputs:
      command: cat README.md app/main.txt && test ! -e app/readme-link && test ! -e .git
      cwd: "{{ tasks.checkout.output.workspacePath }}"
  - id: write
    type: core/bash.exec
    needs: checkout
    inputs:
      command: echo changed > README.md
      cwd: "{{ tasks.checkout.output.workspacePath }}"
`)
    const o = out(r.runs.checkout!)
    expect(o).toMatchObject({ success: true, workspacePath: 'workspace-checkout', repoUrl: g.url(), ref: 'HEAD', commit: g.commits.second, subdir: '' })
    // The repository's symlink is not kept: listed, and said in a WARN line (the tree is kept without it).
    expect(o.skipped).toEqual([{ path: 'app/readme-link', reason: 'symlink' }])
    expect(r.runs.checkout!.files).toEqual([expect.objectContaining({ name: 'workspace-checkout/' })])
    expect(r.runs.read!.state).toBe('SUCCESS')
    expect(out(r.runs.read!).stdout).toBe('second version\napp main\n')
    expect(out(r.runs.read!).command.workingDir).toEndWith('/workspace-checkout')
    // Read-only: the engine's copy (root's, 0444 in 0555 dirs); the sandboxed uid cannot write it.
    expect(r.runs.write!.state).toBe('FAILED')
    expect(r.runs.write!.error?.code).toMatch(/^(COMMAND_FAILED|PERMISSION_DENIED)$/)
    expect(JSON.stringify(r.runs.write!.error)).toContain('README.md')
    expect(r.done.state).toBe('FAILED')
  })

  it('a branch, an annotated tag and a commit sha; subdir hands over that directory alone', async () => {
    const r = await run(`
id: git-refs
secrets: [GIT_TOKEN]
tasks:
  - id: branch
    type: core/git-source.checkout
    inputs: { repoUrl: "${g.url()}", ref: feature, auth: { method: token, token: "{{ secrets.GIT_TOKEN }}" } }
  - id: tag
    type: core/git-source.checkout
    inputs: { repoUrl: "${g.url()}", ref: v1, subdir: app, auth: { method: token, token: "{{ secrets.GIT_TOKEN }}" } }
  - id: sha
    type: core/git-source.checkout
    inputs: { repoUrl: "${g.url()}", ref: "${g.commits.first}", auth: { method: token, token: "{{ secrets.GIT_TOKEN }}" } }
  - id: read
    type: core/bash.exec
    needs: [branch, tag, sha]
    permissions: { run: [cat, ls, cut] }
    inputs:
      script: |
        cat "$B/FEATURE.md" "$S/README.md"
        ls "$T"
        "$T/run.sh" >/dev/null 2>&1 || echo "no exec from the noexec working dir"
        ls -l "$T/run.sh" "$T/main.txt" | cut -c1-10
      env:
        B: "{{ tasks.branch.output.workspacePath }}"
        T: "{{ tasks.tag.output.workspacePath }}"
        S: "{{ tasks.sha.output.workspacePath }}"
`)
    expect(r.done.state).toBe('SUCCESS')
    expect(out(r.runs.branch!)).toMatchObject({ ref: 'feature', commit: g.commits.feature, workspacePath: 'workspace-branch' })
    expect(out(r.runs.tag!)).toMatchObject({ ref: 'v1', commit: g.commits.first, subdir: 'app', workspacePath: 'workspace-tag', skipped: [{ path: 'readme-link', reason: 'symlink' }] })
    expect(out(r.runs.sha!)).toMatchObject({ ref: g.commits.first, commit: g.commits.first })
    expect(out(r.runs.read!).stdout).toBe('feature branch\nfirst version\nlib\nmain.txt\nrun.sh\nno exec from the noexec working dir\n-r--r--r--\n-r-xr-xr-x\n')
  })

  it('writableInputs: true gives the task its own writable copy', async () => {
    const r = await run(`
id: git-writable
secrets: [GIT_TOKEN]
tasks:${checkout('')}
  - id: build
    type: core/bash.exec
    needs: checkout
    writableInputs: true
    permissions: { run: [cat] }
    inputs:
      command: echo built > out.txt && echo more >> README.md && cat README.md out.txt
      cwd: "{{ tasks.checkout.output.workspacePath }}"
`)
    expect(r.done.state).toBe('SUCCESS')
    expect(out(r.runs.build!).stdout).toBe('second version\nmore\nbuilt\n')
  })

  it('a wrong token: GIT_FAILED (auth) after the server\'s 401; no token appears in logs, outputs, errors or audit', async () => {
    const before = g.requests.length
    const r = await run(`
id: git-401
secrets: [WRONG_TOKEN]
tasks:
  - id: checkout
    type: core/git-source.checkout
    inputs: { repoUrl: "${g.url()}", auth: { method: token, token: "{{ secrets.WRONG_TOKEN }}", username: someone } }
`)
    expect(r.done.state).toBe('FAILED')
    const run1 = r.runs.checkout!
    expect(run1.error).toMatchObject({ code: 'GIT_FAILED', details: { reason: 'auth' } })
    expect(run1.error!.message).toContain('git fetch failed (auth)')
    expect(g.requests.slice(before).some((q) => q.status === 401)).toBe(true)
    const everything = JSON.stringify({ runs: r.runs, logs: r.logs, audit: r.audit, done: r.done })
    for (const secret of ['wrong-7d1e0b39aa', Buffer.from('someone:wrong-7d1e0b39aa').toString('base64'), TOKEN]) expect(everything).not.toContain(secret)
    const db = readFileSync(t.dbPath)
    expect(db.includes(Buffer.from('wrong-7d1e0b39aa'))).toBe(false)
  })

  it('a remote beyond the operator\'s cap is refused (SCRIPT_POLICY); a templated repoUrl to an ungranted host is PERMISSION_DENIED, audited', async () => {
    const r = await run(`
id: git-cap
inputs:
  url: { type: string, default: "http://127.0.0.2:${g.port}/repo.git" }
secrets: [GIT_TOKEN]
tasks:
  - id: beyond
    type: core/git-source.checkout
    inputs: { repoUrl: "http://127.0.0.1:1/repo.git" }
  - id: templated
    type: core/git-source.checkout
    permissions: { network: ["127.0.0.1:${g.port}"] }
    inputs: { repoUrl: "{{ inputs.url }}", auth: { method: token, token: "{{ secrets.GIT_TOKEN }}" } }
`)
    expect(r.done.state).toBe('FAILED')
    expect(r.runs.beyond!.error).toMatchObject({ code: 'INVALID_WORKFLOW', details: { refusedBy: 'sandbox.scriptPolicy' } })
    expect(r.runs.beyond!.error!.message).toContain('127.0.0.1:1')
    expect(r.runs.templated!.error).toMatchObject({ code: 'PERMISSION_DENIED', details: { permission: 'network', target: `127.0.0.2:${g.port}` } })
    expect(r.audit.some((a) => a.type === 'PERMISSION_DENIED' && a.taskId === 'templated' && (a.data as { target?: string }).target === `127.0.0.2:${g.port}`)).toBe(true)
  })
})

describe('core/git-source.checkout then core/script.run (the seed\'s "git checkout then script")', () => {
  it('runs the checked-out package.json project from its workspacePath, its dependency installed by the engine from the stored tree', async () => {
    const r = await run(`
apiVersion: v1
id: git-then-script
secrets: [GIT_TOKEN]
tasks:
  - id: checkout
    type: core/git-source.checkout
    inputs:
      repoUrl: ${g.url('project.git')}
      auth: { method: token, token: "{{ secrets.GIT_TOKEN }}" }
  - id: build
    type: core/script.run
    needs: checkout
    inputs:
      source: { type: local, path: "{{ tasks.checkout.output.workspacePath }}" }
      projectMode: true
      install: { enabled: true }
      args: ["from", "git"]
`)
    expect(r.runs.checkout!.state).toBe('SUCCESS')
    expect(r.runs.build!.error).toBeUndefined()
    expect(r.runs.build!.state).toBe('SUCCESS')
    const o = out(r.runs.build!)
    expect(o.stdout).toContain('two hours is 7200000 ms, args from git')
    expect(o.mode).toBe('project')
    expect(o.lifecycle.executed).toContain('start')
    // The project in the tree is the engine's, read-only: the run used a private copy, and the tree is unchanged.
    expect(r.done.state).toBe('SUCCESS')
  }, 120_000)
})

describe('core/git-source.checkout: validation', () => {
  const issues = (yaml: string) => {
    const r = parseWorkflow(yaml)
    return r.ok ? [] : r.issues.map((i) => `${i.code} ${i.path}: ${i.message}`)
  }
  const one = (inputs: string, extra = '') => issues(`
id: v
tasks:
  - id: c
    type: core/git-source.checkout${extra}
    inputs: ${inputs}
`)

  it('refuses file://, ext::, credentials in the URL, an option-like URL, and a bad ref or subdir', () => {
    expect(one('{ repoUrl: "file:///etc" }').join()).toContain('INVALID_VALUE tasks[0].inputs.repoUrl')
    expect(one('{ repoUrl: "ext::git-upload-pack%20/srv" }').join()).toContain("remote-helper syntax")
    expect(one('{ repoUrl: "https://user:pw@example.com/r.git" }').join()).toContain('holds a password')
    expect(one('{ repoUrl: "https://tok@example.com/r.git" }').join()).toContain('holds a user name')
    expect(one('{ repoUrl: "-uhttps://example.com/r.git" }').join()).toContain('may not start with "-"')
    expect(one('{ repoUrl: "https://example.com/r.git", ref: "--upload-pack=x" }').join()).toContain('inputs.ref')
    expect(one('{ repoUrl: "https://example.com/r.git", subdir: "../x" }').join()).toContain('inputs.subdir')
    expect(one('{ repoUrl: "https://example.com/r.git" }')).toEqual([])
  })

  it('ssh needs knownHosts; a credential is a secret; a templated URL needs permissions.network; nothing but network is granted', () => {
    expect(one('{ repoUrl: "git@example.com:org/r.git", auth: { method: ssh, privateKey: "{{ secrets.K }}" } }').join()).toContain('REQUIRED tasks[0].inputs.auth.knownHosts')
    expect(one('{ repoUrl: "https://example.com/r.git", auth: { method: token, token: "literal" } }').join()).toContain('write it as a secret')
    expect(one('{ repoUrl: "{{ inputs.u }}" }').join()).toContain('REQUIRED tasks[0].permissions')
    expect(one('{ repoUrl: "https://example.com/r.git" }', '\n    permissions: { run: [sh], network: [example.com:443] }').join()).toContain('permissions.run means nothing')
    expect(one('{ repoUrl: "https://example.com/r.git" }', '\n    permissions: { network: [other.com:443] }').join()).toContain('does not name')
  })

  it('a task reading workspacePath must need the checkout (TASK_REF_NOT_UPSTREAM)', () => {
    const found = issues(`
id: v
tasks:
  - id: checkout
    type: core/git-source.checkout
    inputs: { repoUrl: "https://example.com/r.git" }
  - id: read
    type: core/bash.exec
    inputs: { command: "true", cwd: "{{ tasks.checkout.output.workspacePath }}" }
`)
    expect(found.join()).toContain('TASK_REF_NOT_UPSTREAM')
  })
})
