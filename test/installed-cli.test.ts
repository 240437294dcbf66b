/** `bun link` into a temp BUN_INSTALL, then `workflow server start` as an installed command behaves like `bun cli/main.ts`. */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pkg from '../package.json' with { type: 'json' }
import { KEY, cleanEnv, cli, freePort, oneJson, root, startServerProcess, tempDir, writeConfig, type ServerProcess } from './server-helpers.ts'

const prefix = tempDir('autokestra-bun-install-')
const work = tempDir('autokestra-installed-')
const bin = join(prefix, 'bin', 'workflow')
const env = cleanEnv({ BUN_INSTALL: prefix, PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` })
let server: ServerProcess | undefined

async function installed(args: string[], extra: Record<string, string> = {}) {
  const p = Bun.spawn(['workflow', ...args], { cwd: work, env: { ...env, ...extra }, stdout: 'pipe', stderr: 'pipe' })
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  return { code, stdout, stderr }
}

beforeAll(async () => {
  const link = Bun.spawn(['bun', 'link'], { cwd: root, env, stdout: 'pipe', stderr: 'pipe' })
  expect(await link.exited).toBe(0)
})
afterAll(async () => {
  await server?.stop()
  rmSync(prefix, { recursive: true, force: true })
  rmSync(work, { recursive: true, force: true })
})

describe('installed workflow command', () => {
  it('is linked into the temp prefix only', () => {
    expect(existsSync(bin)).toBe(true)
  })

  it('prints the version from any directory', async () => {
    const r = await installed(['--version', '--json'])
    expect(r.code).toBe(0)
    expect(oneJson(r)).toEqual({ version: pkg.version })
  })

  it('starts the server, runs a workflow and stops with exit 0', async () => {
    const port = freePort()
    const config = writeConfig(work, port)
    server = await startServerProcess(['workflow'], config, port, env, work)
    const remote = { WORKFLOW_SERVER_URL: server.url, WORKFLOW_API_KEY: KEY }
    const wf = join(work, 'hi.yaml')
    writeFileSync(wf, 'id: hi\ntasks:\n  - id: a\n    type: core/log.info\n    inputs: { message: installed }\n')
    expect((await installed(['apply', wf], remote)).code).toBe(0)
    const t = await installed(['trigger', 'hi', '--wait', '--json'], remote)
    expect(t.code).toBe(0)
    expect(oneJson(t).state).toBe('SUCCESS')
    expect(await server.stop()).toBe(0)
    server = undefined
  })

  it('refuses to start without an API key exactly like `bun cli/main.ts`', async () => {
    const config = writeConfig(mkdtempSync(join(work, 'nokey-')), freePort(), { apiKeys: [] })
    const a = await installed(['server', 'start', '-c', config, '--json'])
    const b = await cli(['server', 'start', '-c', config, '--json'])
    expect(a.code).toBe(3)
    expect(b.code).toBe(3)
    expect(a.stdout).toBe(b.stdout)
  })
})
