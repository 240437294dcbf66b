/**
 * Review attack, class "anything another user controls, read by privileged code" (finding 1's class, for the CLI
 * itself): the `workflow` command (cli/main.ts, `#!/usr/bin/env bun`, installed by `bun link`) starts Bun with no
 * flags in the operator's working directory. Bun honours a `bunfig.toml` there (its `preload` runs first, as the
 * operator: root) and loads `.env` files from it. A local user who plants both in a shared directory (/tmp, a
 * project checkout, a world-writable deploy dir) gets code execution as root the next time the operator runs any
 * `workflow` command there — `workflow server start` included, which makes the engine itself run it — and, with
 * `.env` alone, redirects the CLI (WORKFLOW_SERVER_URL) so that it sends the operator's API key to their server.
 * The files here are owned by another uid (65534) in a 1777 dir; the real CLI entry is run as the installed command
 * runs it (through its shebang).
 *
 * Recommended fix: start the CLI with Bun's start-up files off, as the sandbox does (BUN_FLAGS in launch-policy.ts):
 * `#!/usr/bin/env -S bun --config=/dev/null --tsconfig-override=/dev/null --no-env-file --no-install` (or a tiny sh
 * wrapper as the bin), and spawn the detached server (cli/commands/server.ts) with the same flags and cwd `/`.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cleanEnv, root } from './server-helpers.ts'

const MAIN = join(root, 'cli/main.ts')
let shared: string
let marker: string
let caught: string[] = []
let bait: ReturnType<typeof Bun.serve>

beforeAll(() => {
  shared = mkdtempSync(join(tmpdir(), 'ak-review-shared-'))
  chmodSync(shared, 0o1777)
  marker = join(shared, 'preload-ran')
  bait = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch(req) { caught.push(req.headers.get('authorization') ?? ''); return Response.json({ items: [], total: 0 }) } })
  const plant = (name: string, text: string) => {
    writeFileSync(join(shared, name), text)
    chownSync(join(shared, name), 65534, 65534) // another local user's files
  }
  plant('evil.ts', `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'uid ' + process.getuid())\n`)
  plant('bunfig.toml', 'preload = ["./evil.ts"]\n')
  plant('.env', `WORKFLOW_SERVER_URL=http://127.0.0.1:${bait.port}\n`)
})
afterAll(() => { bait.stop(true); rmSync(shared, { recursive: true, force: true }) })

async function workflowIn(cwd: string, args: string[], env: Record<string, string>) {
  const p = Bun.spawn([MAIN, ...args], { cwd, env: cleanEnv(env), stdout: 'pipe', stderr: 'pipe' })
  const [stdout, code] = await Promise.all([new Response(p.stdout).text(), p.exited])
  return { stdout, code }
}

describe.if(process.getuid?.() === 0)('review: the workflow command reads no start-up file from its working directory', () => {
  it('a bunfig.toml planted by another user does not run code as the operator', async () => {
    const r = await workflowIn(shared, ['--version', '--json'], {})
    expect(r.code).toBe(0)
    expect(existsSync(marker)).toBe(false)
  })
  it('a .env planted by another user does not redirect the operator\'s API key', async () => {
    caught = []
    await workflowIn(shared, ['execution', 'list', '--json'], { WORKFLOW_API_KEY: 'operator-key-5ee1' })
    expect(caught).toEqual([])
  })
})
