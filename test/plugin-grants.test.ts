/**
 * Issue 10, finding 4 (what an operator sees): `plugin list`/`inspect` and `apply` show each plugin's checked
 * grant and each task's effective grant; a plugin beyond the operator's policy is refused at every step with
 * the entry it asked for; and a manifest whose permissions change on upgrade shows the difference, is logged
 * as a WARN and audited. Real CLI, real server, real SQLite file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openSqliteStore } from '../runtime/store/sqlite/store.ts'
import { KEY, cleanEnv, cli, freePort, oneJson, root, startServerProcess, tempDir, waitUntil, type ServerProcess } from './server-helpers.ts'

const dir = tempDir('autokestra-grants-')
const port = freePort()
const env = cleanEnv({ WORKFLOW_SERVER_URL: `http://127.0.0.1:${port}`, WORKFLOW_API_KEY: KEY })
const pluginsDir = join(dir, 'plugins')
const file = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f }
const config = file('config.yaml', [
  'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
  'storage:', '  path: ./data/autokestra.db', 'plugins:', `  paths: [${pluginsDir}]`, '',
].join('\n'))
const sdk = join(root, 'sandbox/sdk/index.ts')

/** A one-action Bun plugin `acme/<name>` with the given version and permissions block. */
function plugin(name: string, version: string, permissions: string): void {
  mkdirSync(join(pluginsDir, name), { recursive: true })
  writeFileSync(join(pluginsDir, name, 'index.ts'), `import { definePlugin } from '${sdk}'\nexport default definePlugin({ actions: { go: async () => ({ ok: true }) } })\n`)
  writeFileSync(join(pluginsDir, name, 'plugin.yaml'),
    `namespace: acme\nname: ${name}\nversion: ${version}\nruntime: bun\nentry: index.ts\nactions:\n  - name: go\n${permissions ? `permissions:\n${permissions}\n` : ''}`)
}

const run = (...args: string[]) => cli(args, { env })
let server: ServerProcess | undefined
const start = async () => {
  server = await startServerProcess(['bun', 'cli/main.ts'], config, port, env)
  let err = ''
  void (async () => { for await (const c of server!.proc.stderr as ReadableStream<Uint8Array>) err += new TextDecoder().decode(c) })()
  return () => err
}

beforeAll(() => {
  plugin('tool', '1.0.0', '  network: [api.example.com]\n  env: [TOOL_TOKEN]')
  plugin('greedy', '1.0.0', '  network: ["127.0.0.1:5432"]')
  plugin('unsafe', '1.0.0', '  run: ["/"]')
})
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('grants an operator can see (issue 10, finding 4)', () => {
  it('plugin list and inspect show which plugins are refused, naming what they asked for', async () => {
    const list = oneJson(await run('plugin', 'list', '-c', config, '--json'))
    const byId = Object.fromEntries(list.items.map((p: { id: string; status: string }) => [p.id, p.status]))
    expect(byId).toMatchObject({ 'acme/tool': 'usable', 'acme/greedy': 'refused', 'acme/unsafe': 'refused', 'core/log': 'usable' })
    expect(list.problems.map((p: { message: string }) => p.message)).toEqual(expect.arrayContaining([
      'plugin acme/greedy cannot be used: it asks for more than the operator allows (sandbox.policy): network 127.0.0.1:5432 (beyond sandbox.policy.network (allowed: *))',
      'plugin acme/unsafe cannot be used: its manifest grants what no plugin may have: run / (is a directory, not a program)',
    ]))
    const human = await run('plugin', 'inspect', 'acme/greedy', '-c', config)
    expect(human.stdout).toContain('refused: plugin acme/greedy cannot be used: it asks for more than the operator allows (sandbox.policy): network 127.0.0.1:5432')
    expect((await run('plugin', 'list', '-c', config)).stdout).toMatch(/acme\/unsafe\s+1\.0\.0\s+bun\s+refused/)
  })

  it('apply shows each task\'s effective grant, and refuses a workflow whose plugin or task asks beyond the policy', async () => {
    await start()
    const wf = file('ok.yaml', `id: ok
tasks:
  - id: call
    type: acme/tool.go
    env: { TOOL_TOKEN: "literal" }
  - id: narrowed
    type: core/http.request
    inputs: { url: "https://api.example.com/" }
    permissions: { network: [api.example.com] }
  - id: quiet
    type: core/log.info
    inputs: { message: hi }
`)
    const r = oneJson(await run('apply', wf, '--json'))
    expect(r.grants).toEqual([
      { taskId: 'call', type: 'acme/tool.go', runner: 'process', grant: { network: ['api.example.com'], env: ['TOOL_TOKEN'] }, env: [{ name: 'TOOL_TOKEN', from: 'task' }] },
      { taskId: 'narrowed', type: 'core/http.request', runner: 'process', grant: { network: ['api.example.com'] } },
      { taskId: 'quiet', type: 'core/log.info', runner: 'process', grant: {} },
    ])
    const human = await run('apply', wf)
    expect(human.stdout).toContain('Effective grants')
    expect(human.stdout).toMatch(/call\s+acme\/tool\.go\s+process\s+network api\.example\.com · env TOOL_TOKEN \(task's env\)/)
    expect(human.stdout).toMatch(/quiet\s+core\/log\.info\s+process\s+nothing \(deny all\)/)

    const greedy = await run('apply', file('greedy.yaml', 'id: greedy\ntasks:\n  - id: a\n    type: acme/greedy.go\n'), '--json')
    expect(greedy.code).toBe(2)
    expect(oneJson(greedy).error.details.issues).toEqual([{ path: 'tasks[0].type', code: 'PLUGIN_REFUSED',
      message: 'plugin acme/greedy cannot be used: it asks for more than the operator allows (sandbox.policy): network 127.0.0.1:5432 (beyond sandbox.policy.network (allowed: *))' }])
    const wide = await run('apply', file('wide.yaml', 'id: wide\ntasks:\n  - id: a\n    type: core/http.request\n    inputs: { url: "http://10.0.0.1:8080/" }\n    permissions: { network: ["10.0.0.1:8080"] }\n'), '--json')
    expect(wide.code).toBe(2)
    expect(oneJson(wide).error.details.issues[0]).toMatchObject({ path: 'tasks[0].permissions', code: 'PERMISSIONS_REFUSED' })
    expect((await run('get', 'greedy', '--json')).code).toBe(4) // nothing half-applied
  }, 60_000)

  it('checks the tasks of onFailure and finally like the main ones: shown, and refused at their own path', async () => {
    if (!server) await start()
    const ok = oneJson(await run('apply', file('lists.yaml', `id: lists
tasks:
  - { id: a, type: core/log.info, inputs: { message: hi } }
finally:
  - { id: tidy, type: core/http.request, inputs: { url: "https://api.example.com/" }, permissions: { network: [api.example.com] } }
`), '--json'))
    expect(ok.grants.map((g: { taskId: string }) => g.taskId)).toEqual(['a', 'tidy'])
    const wide = await run('apply', file('wide-finally.yaml', `id: wide-finally
tasks:
  - { id: a, type: core/log.info, inputs: { message: hi } }
onFailure:
  - { id: greedy, type: acme/greedy.go }
finally:
  - { id: tidy, type: core/http.request, inputs: { url: "http://10.0.0.1:8080/" }, permissions: { network: ["10.0.0.1:8080"] } }
`), '--json')
    expect(wide.code).toBe(2)
    expect(oneJson(wide).error.details.issues.map((i: { path: string; code: string }) => `${i.path} ${i.code}`))
      .toEqual(['onFailure[0].type PLUGIN_REFUSED', 'finally[0].permissions PERMISSIONS_REFUSED'])
    expect((await run('get', 'wide-finally', '--json')).code).toBe(4)
  }, 60_000)

  it('and the task fails at run time too (a local run, which never applies)', async () => {
    const r = await run('run', file('local.yaml', 'id: local\ntasks:\n  - id: a\n    type: acme/unsafe.go\n'), '-c', config, '--json')
    expect(r.code).toBe(1)
    expect(oneJson(r).tasks[0].error).toMatchObject({ code: 'INVALID_MANIFEST', message: 'plugin acme/unsafe cannot be used: its manifest grants what no plugin may have: run / (is a directory, not a program)' })
  }, 30_000)

  it('shows, warns about and audits a grant that changed on upgrade', async () => {
    expect(await server!.stop()).toBe(0)
    plugin('tool', '1.1.0', '  network: [api.example.com, evil.example.com]\n  run: [sh]')
    const before = await run('plugin', 'inspect', 'acme/tool', '-c', config)
    expect(before.stdout).toContain('Permissions changed since the engine recorded them (1.0.0 at')
    expect(before.stdout).toContain('  + network evil.example.com\n  + run sh\n  - env TOOL_TOKEN')
    const diff = oneJson(await run('plugin', 'inspect', 'acme/tool', '-c', config, '--json'))
    expect(diff.changes).toEqual({ added: ['network evil.example.com', 'run sh'], removed: ['env TOOL_TOKEN'] })
    expect(diff.recorded).toMatchObject({ version: '1.0.0', permissions: { network: ['api.example.com'], env: ['TOOL_TOKEN'] } })

    const serverErr = await start()
    const warning = 'plugin acme/tool 1.0.0 → 1.1.0 changed its permissions: + network evil.example.com; + run sh; - env TOOL_TOKEN'
    await waitUntil('the server to log the change', () => serverErr().includes(`WARN  [autokestra] ${warning}`))
    const store = openSqliteStore(join(dir, 'data', 'autokestra.db'), { readonly: true })
    const audit = await store.audit.list({ type: 'PLUGIN_GRANT_CHANGED' })
    await store.close()
    expect(audit.map((a) => a.data)).toEqual([{ plugin: 'acme/tool', fromVersion: '1.0.0', toVersion: '1.1.0',
      added: ['network evil.example.com', 'run sh'], removed: ['env TOOL_TOKEN'], dir: join(pluginsDir, 'tool') }])
    expect((await run('plugin', 'inspect', 'acme/tool', '-c', config)).stdout).toContain('same grant as the engine recorded (version 1.1.0')
  }, 60_000)
})
