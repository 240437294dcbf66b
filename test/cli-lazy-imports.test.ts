/**
 * CLI start-up is mostly imports (issue 14, item 6): `--version` imports no command group and none of the heavy
 * libraries, `list` only its group and the HTTP client; both still work, against a real server. What each command
 * line loads is read from the module registry (test/fixtures/cli-imports.ts), not timed (timing: bench/cli.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { cac } from 'cac'
import pkg from '../package.json' with { type: 'json' }
import { COMMAND_GROUPS, COMMANDS, groupsFor, type CommandGroupName } from '../cli/command-groups.ts'
import { KEY, cleanEnv, cli, freePort, oneJson, root, startServerProcess, tempDir, writeConfig, type ServerProcess } from './server-helpers.ts'

const dir = tempDir('autokestra-cli-imports-')
let server: ServerProcess | undefined
let remote: Record<string, string> = {}

/** The packages (node_modules) and own modules (repo-relative) loaded by `bun cli/main.ts ...args`. */
async function importsOf(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; packages: Set<string>; own: string[] }> {
  const file = join(dir, `imports-${Math.random().toString(36).slice(2)}.txt`)
  const p = Bun.spawn(['bun', 'test/fixtures/cli-imports.ts', ...args], { cwd: root, env: cleanEnv({ ...env, CLI_IMPORTS_OUT: file }), stdout: 'pipe', stderr: 'pipe' })
  const [stdout, code] = await Promise.all([new Response(p.stdout).text(), p.exited])
  const loaded = readFileSync(file, 'utf8').split('\n').filter(Boolean)
  const packages = new Set(loaded.filter((m) => m.includes('/node_modules/')).map((m) => {
    const [scope, name] = m.split('/node_modules/').pop()!.split('/')
    return scope!.startsWith('@') ? `${scope}/${name}` : scope!
  }))
  return { code, stdout, packages, own: loaded.filter((m) => !m.includes('/node_modules/')).map((m) => relative(root, m)) }
}

/** Libraries no quick command should pay for: the server, the schema and YAML stacks, CEL, docker, cron, workers. */
const HEAVY = ['elysia', '@elysiajs/openapi', 'yaml', '@sinclair/typebox', 'ajv', 'ajv-formats', '@marcbachmann/cel-js', 'dockerode', 'croner', 'comlink', 're2js']

beforeAll(async () => {
  const port = freePort()
  server = await startServerProcess(['bun', 'cli/main.ts'], writeConfig(dir, port), port)
  remote = { WORKFLOW_SERVER_URL: server.url, WORKFLOW_API_KEY: KEY }
  writeFileSync(join(dir, 'hi.yaml'), 'id: lazy-hi\ntasks:\n  - { id: a, type: core/log.info, inputs: { message: hi } }\n')
  const applied = await cli(['apply', join(dir, 'hi.yaml')], { env: cleanEnv(remote) })
  expect({ code: applied.code, stderr: applied.stderr }).toEqual({ code: 0, stderr: '' })
}, 30_000)
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('CLI imports per command', () => {
  it('maps every command to the group that registers it, and nothing else', async () => {
    const registered: Record<string, CommandGroupName> = {}
    for (const group of Object.keys(COMMAND_GROUPS) as CommandGroupName[]) {
      const c = cac('workflow')
      ;(await COMMAND_GROUPS[group]()).register(c, { name: 'workflow', version: pkg.version })
      for (const command of c.commands) registered[command.name] = group
    }
    expect(registered).toEqual({ ...COMMANDS })
    expect(groupsFor('list')).toEqual(['apply'])
    expect(groupsFor(undefined, { version: true })).toEqual([])
    expect([...groupsFor(undefined)].sort()).toEqual((Object.keys(COMMAND_GROUPS) as CommandGroupName[]).sort())
    expect(groupsFor('no-such-command')).toEqual([])
  })

  it('--version prints the version and imports no command group and no heavy library', async () => {
    const r = await importsOf(['--version', '--json'])
    expect({ code: r.code, out: JSON.parse(r.stdout) }).toEqual({ code: 0, out: { version: pkg.version } })
    expect([...r.packages].sort()).toEqual(['cac', 'consola'])
    expect(r.own.filter((m) => m.startsWith('cli/commands/') || m.startsWith('api/') || m.startsWith('actors/') || m.startsWith('sandbox/'))).toEqual([])
  })

  it('list shows the applied workflow and imports only its group and the HTTP client', async () => {
    const plain = await cli(['list', '--json'], { env: cleanEnv(remote) })
    expect(plain.code).toBe(0)
    expect(oneJson(plain).items.map((w: { id: string }) => w.id)).toContain('lazy-hi')
    const r = await importsOf(['list', '--json'], remote)
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).items.map((w: { id: string }) => w.id)).toContain('lazy-hi')
    expect(HEAVY.filter((p) => r.packages.has(p))).toEqual([])
    expect(r.own.filter((m) => m.startsWith('cli/commands/'))).toEqual(['cli/commands/apply.ts'])
    expect(r.own.filter((m) => m.startsWith('actors/') || m.startsWith('sandbox/') || m.startsWith('runtime/config/') || m === 'api/server.ts')).toEqual([])
  })

  it('a command that reads a config file still loads it on demand (list -c config)', async () => {
    const r = await importsOf(['list', '--json', '-c', join(dir, 'config.yaml')])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).items.map((w: { id: string }) => w.id)).toContain('lazy-hi')
    expect(r.packages.has('yaml')).toBe(true)
  })
})
