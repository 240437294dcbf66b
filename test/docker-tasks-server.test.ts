/**
 * Issue 16, item 5 (who grants the Docker engine), on real servers with the real CLI: with the shipped
 * `sandbox.scriptPolicy` (docker: false) a docker task is refused at validate and apply DOCKER_NOT_ALLOWED, naming the
 * setting, nothing applied; without `docker: true` it is DOCKER_GRANT_REQUIRED; a plugin task or a script asking for
 * `docker: true` is refused too (no sandboxed process is given Docker). Where the operator allows it, apply shows
 * plainly what the grant means, and `plugin inspect core/docker` says the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { KEY, cleanEnv, cli, freePort, oneJson, root, startServerProcess, tempDir, type ServerProcess } from './server-helpers.ts'

const dir = tempDir('autokestra-docker-grants-')
const file = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f }
const configOf = (name: string, port: number, sandbox: string[]) => file(name, [
  'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
  'storage:', `  path: ./data-${name}/autokestra.db`, 'plugins:', `  paths: [${join(root, 'plugins')}]`, ...sandbox, '',
].join('\n'))
const shippedPort = freePort()
const allowedPort = freePort()
const shipped = configOf('shipped.yaml', shippedPort, [])
const allowed = configOf('allowed.yaml', allowedPort, ['sandbox:', '  scriptPolicy:', '    docker: true'])
const envOf = (port: number) => cleanEnv({ WORKFLOW_SERVER_URL: `http://127.0.0.1:${port}`, WORKFLOW_API_KEY: KEY })
let servers: ServerProcess[] = []

beforeAll(async () => {
  servers = await Promise.all([startServerProcess(['bun', 'cli/main.ts'], shipped, shippedPort, envOf(shippedPort)), startServerProcess(['bun', 'cli/main.ts'], allowed, allowedPort, envOf(allowedPort))])
}, 60_000)
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()))
  rmSync(dir, { recursive: true, force: true })
})

const dockerRun = file('docker-run.yaml', `id: docker-granted
tasks:
  - id: hello
    type: core/docker.run
    permissions: { docker: true }
    inputs: { image: "autokestra/plugin-bun:${Bun.version}", command: [/usr/local/bin/bun, -e, "console.log(1)"] }
`)

describe('the docker grant on real servers', () => {
  it('the shipped policy refuses docker: true at validate and apply (DOCKER_NOT_ALLOWED, naming sandbox.scriptPolicy.docker); nothing applied', async () => {
    const env = envOf(shippedPort)
    const validate = await cli(['validate', dockerRun, '-c', shipped, '--json'], { env })
    expect(validate.code).toBe(2)
    const v = oneJson(validate).issues
    expect(v).toEqual([expect.objectContaining({ path: 'tasks[0].permissions', code: 'DOCKER_NOT_ALLOWED' })])
    expect(v[0].message).toContain('docker true (beyond sandbox.scriptPolicy.docker (not allowed')

    const apply = await cli(['apply', dockerRun, '--json'], { env })
    expect(apply.code).toBe(2)
    const issues = oneJson(apply).error.details.issues
    expect(issues).toEqual([expect.objectContaining({ path: 'tasks[0].permissions', code: 'DOCKER_NOT_ALLOWED' })])
    expect(issues[0].message).toContain('sandbox.scriptPolicy.docker')
    expect((await cli(['get', 'docker-granted', '--json'], { env })).code).toBe(4)
  }, 60_000)

  it('a docker task without docker: true is DOCKER_GRANT_REQUIRED; docker: true on a plugin or script task is refused', async () => {
    const env = envOf(allowedPort)
    const ungranted = await cli(['apply', file('no-grant.yaml', 'id: docker-ungranted\ntasks:\n  - { id: r, type: core/docker.run, inputs: { image: x } }\n'), '--json'], { env })
    expect(ungranted.code).toBe(2)
    expect(oneJson(ungranted).error.details.issues).toEqual([expect.objectContaining({ path: 'tasks[0].permissions', code: 'DOCKER_GRANT_REQUIRED' })])
    const wf = file('elsewhere.yaml', `id: docker-elsewhere
tasks:
  - id: r
    type: core/docker.run
    permissions: { docker: true }
    inputs: { image: x }
  - id: p
    type: core/log.info
    permissions: { docker: true }
    inputs: { message: hi }
  - id: s
    type: core/script.bun
    script: return 1
    permissions: { docker: true }
`)
    const apply = await cli(['apply', wf, '--json'], { env })
    expect(apply.code).toBe(2)
    const issues = oneJson(apply).error.details.issues
    expect(issues.map((i: { path: string }) => i.path).sort()).toEqual(['tasks[1].permissions', 'tasks[2].permissions'])
    expect(issues).toContainEqual(expect.objectContaining({ path: 'tasks[1].permissions', code: 'PERMISSIONS_REFUSED' }))
    const script = issues.find((i: { path: string }) => i.path === 'tasks[2].permissions')
    expect(script).toMatchObject({ code: 'PERMISSIONS_REFUSED' })
    expect(script.message).toContain('no plugin or script process is ever given the Docker engine')
    expect((await cli(['get', 'docker-ungranted', '--json'], { env })).code).toBe(4)
    expect((await cli(['get', 'docker-elsewhere', '--json'], { env })).code).toBe(4)
  }, 60_000)

  it('where the operator allows it, apply shows what the grant means, and plugin inspect says the same', async () => {
    const env = envOf(allowedPort)
    const apply = await cli(['apply', dockerRun], { env })
    expect(apply.code).toBe(0)
    expect(apply.stdout).toContain('engine')
    expect(apply.stdout).toContain("docker (the engine drives this host's Docker engine for the task (root-equivalent on most hosts)")
    const json = oneJson(await cli(['apply', dockerRun, '--json'], { env }))
    expect(json.grants[0]).toMatchObject({ taskId: 'hello', type: 'core/docker.run', runner: 'engine', grant: { docker: true } })

    const inspect = await cli(['plugin', 'inspect', 'core/docker', '-c', allowed], { env })
    expect(inspect.code).toBe(0)
    expect(inspect.stdout).toContain('sandbox.scriptPolicy.docker is true: allowed')
    expect(inspect.stdout).toContain("what it means: the engine drives this host's Docker engine")
    const shippedInspect = oneJson(await cli(['plugin', 'inspect', 'core/docker', '-c', shipped, '--json'], { env }))
    expect(shippedInspect.docker).toMatchObject({ cap: 'sandbox.scriptPolicy.docker', allowed: false })
  }, 60_000)
})
