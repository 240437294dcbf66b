/**
 * Issue 15, item 2 (who grants what), on a real server with the real CLI and the shipped `sandbox.scriptPolicy`: a
 * script asking beyond the cap is refused at validate and apply with SCRIPT_POLICY_EXCEEDED naming the entry, nothing
 * half-applied; a Python task on a server without Python is refused RUNTIME_UNAVAILABLE; an applied script sees its
 * grant (the interpreter it runs, pinned) and cannot reach the engine's own port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { KEY, cleanEnv, cli, freePort, oneJson, root, startServerProcess, tempDir, type ServerProcess } from './server-helpers.ts'

const dir = tempDir('autokestra-scripts-')
const port = freePort()
const env = cleanEnv({ WORKFLOW_SERVER_URL: `http://127.0.0.1:${port}`, WORKFLOW_API_KEY: KEY })
const file = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f }
// No sandbox.scriptPolicy: the shipped cap. A Python that is not there: this server cannot run Python scripts.
const config = file('config.yaml', [
  'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
  'storage:', '  path: ./data/autokestra.db', 'plugins:', `  paths: [${join(root, 'plugins')}]`,
  'sandbox:', '  python: /nonexistent/bin/python3', '',
].join('\n'))
const run = (...args: string[]) => cli(args, { env })
let server: ServerProcess

beforeAll(async () => { server = await startServerProcess(['bun', 'cli/main.ts'], config, port, env) })
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('script grants on a real server', () => {
  it('a grant beyond the shipped cap is refused by validate and apply, naming what it asked for', async () => {
    const wf = file('greedy.yaml', `id: greedy-script
tasks:
  - id: ok
    type: core/script.shell
    commands: [sort]
    permissions: { run: [sort] }
  - id: db
    type: core/script.bun
    script: return 1
    permissions: { network: ["10.0.0.5:5432"], filesystem: { read: [/srv/data] } }
`)
    const validate = await run('validate', wf, '-c', config, '--json')
    expect(validate.code).toBe(2)
    const vIssues = oneJson(validate).issues
    expect(vIssues).toHaveLength(1)
    expect(vIssues[0]).toMatchObject({ path: 'tasks[1].permissions', code: 'SCRIPT_POLICY_EXCEEDED' })
    expect(vIssues[0].message).toContain('network 10.0.0.5:5432 (beyond sandbox.scriptPolicy.network (none allowed))')
    expect(vIssues[0].message).toContain('filesystem.read /srv/data (beyond sandbox.scriptPolicy.filesystem.read (none allowed))')

    const apply = await run('apply', wf, '--json')
    expect(apply.code).toBe(2)
    const issues = oneJson(apply).error.details.issues
    expect(issues).toEqual([expect.objectContaining({ path: 'tasks[1].permissions', code: 'SCRIPT_POLICY_EXCEEDED' })])
    expect(issues[0].message).toContain('network 10.0.0.5:5432')
    expect((await run('get', 'greedy-script', '--json')).code).toBe(4) // nothing half-applied
  }, 60_000)

  it('an entry no grant may hold is PERMISSIONS_REFUSED, as for any task', async () => {
    const r = await run('apply', file('root.yaml', 'id: root-script\ntasks:\n  - { id: a, type: core/script.shell, commands: [ls /], permissions: { filesystem: { read: [/] } } }\n'), '--json')
    expect(r.code).toBe(2)
    expect(oneJson(r).error.details.issues[0]).toMatchObject({ path: 'tasks[0].permissions', code: 'PERMISSIONS_REFUSED' })
  }, 60_000)

  it('a Python task where the server has no Python is RUNTIME_UNAVAILABLE at validate and apply', async () => {
    const wf = file('py.yaml', 'id: py-script\ntasks:\n  - { id: p, type: core/script.python, script: "outputs[\'x\'] = 1" }\n')
    const validate = await run('validate', wf, '-c', config, '--json')
    expect(validate.code).toBe(2)
    expect(oneJson(validate).issues[0]).toMatchObject({ path: 'tasks[0].type', code: 'RUNTIME_UNAVAILABLE' })
    const apply = await run('apply', wf, '--json')
    expect(apply.code).toBe(2)
    const issue = oneJson(apply).error.details.issues[0]
    expect(issue).toMatchObject({ path: 'tasks[0].type', code: 'RUNTIME_UNAVAILABLE' })
    expect(issue.message).toContain('/nonexistent/bin/python3')
  }, 60_000)

  it('an image: this server\'s Docker lacks is IMAGE_NOT_FOUND at validate and apply (nothing pulled, nothing applied); on the process runner, INVALID_VALUE', async () => {
    const absent = `autokestra-test/absent-at-apply:${Bun.version}`
    const wf = file('img.yaml', `id: img-script\ntasks:\n  - { id: a, type: core/script.shell, runner: docker, image: "${absent}", commands: [echo] }\n`)
    const validate = await run('validate', wf, '-c', config, '--json')
    expect(validate.code).toBe(2)
    expect(oneJson(validate).issues).toEqual([expect.objectContaining({ path: 'tasks[0].image', code: 'IMAGE_NOT_FOUND' })])
    const apply = await run('apply', wf, '--json')
    expect(apply.code).toBe(2)
    const issues = oneJson(apply).error.details.issues
    expect(issues).toEqual([expect.objectContaining({ path: 'tasks[0].image', code: 'IMAGE_NOT_FOUND' })])
    expect(issues[0].message).toContain(absent)
    expect((await run('get', 'img-script', '--json')).code).toBe(4)
    const onProcess = file('img-process.yaml', 'id: img-process\ntasks:\n  - { id: a, type: core/script.shell, image: "my/sh:1", commands: [echo] }\n')
    const refused = await run('apply', onProcess, '--json')
    expect(refused.code).toBe(2)
    expect(oneJson(refused).error.details.issues[0]).toMatchObject({ path: 'tasks[0].image', code: 'INVALID_VALUE' })
  }, 60_000)

  it('apply shows a script\'s grant with its interpreter; run, it cannot reach the engine\'s port', async () => {
    const wf = file('probe.yaml', `id: probe-script
tasks:
  - id: sh
    type: core/script.shell
    commands: ["echo hi"]
  - id: knock
    type: core/script.bun
    script: return await (await fetch('http://127.0.0.1:${port}/health')).json()
`)
    const applied = oneJson(await run('apply', wf, '--json'))
    const sh = applied.grants.find((g: { taskId: string }) => g.taskId === 'sh')
    expect(sh.grant.run).toHaveLength(1)
    expect(sh.grant.run[0]).toMatch(/^\/.*\/(dash|bash|sh|busybox)$/)
    expect(applied.grants.find((g: { taskId: string }) => g.taskId === 'knock').grant).toEqual({})
    const r = await run('trigger', 'probe-script', '--wait=60s', '--json')
    const ex = oneJson(r)
    expect(ex.state).toBe('FAILED')
    const inspect = oneJson(await run('execution', 'inspect', ex.id, '--audit', '--json'))
    const knock = inspect.tasks.find((t: { taskId: string }) => t.taskId === 'knock')
    expect(knock.state).toBe('FAILED')
    expect(knock.error.code).toBe('PERMISSION_DENIED')
    expect(knock.error.message).toContain(`127.0.0.1:${port}`)
    expect(inspect.tasks.find((t: { taskId: string }) => t.taskId === 'sh').state).toBe('SUCCESS')
    expect(JSON.stringify(inspect.audit)).toContain('PERMISSION_DENIED')
  }, 60_000)
})

describe('the example', () => {
  it('examples/scripts.yaml runs with workflow run: shell makes the data, Python transforms it, Bun summarises', async () => {
    const db = join(dir, 'example.db')
    const r = await cli(['run', 'examples/scripts.yaml', '--input', 'count=5', '--json'], { env: cleanEnv({ WORKFLOW_STORAGE_PATH: db }) })
    expect(r.code).toBe(0)
    const d = JSON.parse(r.stdout.trim().split('\n').pop()!)
    expect(d.state).toBe('SUCCESS')
    expect(d.outputs).toEqual({ hottest: 's1' })
    const byId = Object.fromEntries(d.tasks.map((t: { taskId: string; output: unknown }) => [t.taskId, t.output]))
    expect((byId.generate as { readings: unknown[] }).readings).toHaveLength(5)
    expect(byId.transform).toEqual({ fahrenheit: { s0: [69.8, 80.6], s1: [64.4, 75.2, 86] } })
    expect(byId.summarise).toEqual({ sensors: 2, hottest: 's1' })
  }, 60_000)

  it('examples/files-etl.yaml runs with workflow run: shell writes a CSV, Python transforms the file, Bun reads the result', async () => {
    const db = join(dir, 'files-etl.db')
    const r = await cli(['run', 'examples/files-etl.yaml', '--input', 'count=6', '--json'], { env: cleanEnv({ WORKFLOW_STORAGE_PATH: db }) })
    expect([r.code, r.stderr]).toEqual([0, ''])
    const d = JSON.parse(r.stdout.trim().split('\n').pop()!)
    expect(d.state).toBe('SUCCESS')
    // 6 readings: s1 at 18, 24, 30 °C and s0 at 21, 27, 33 °C; the hottest is s0 (33 °C = 91.4 °F).
    expect(d.outputs).toEqual({ rows: 6, hottest: 's0' })
    const byId = Object.fromEntries(d.tasks.map((t: { taskId: string; output: unknown }) => [t.taskId, t.output]))
    expect(byId.transform).toEqual({ rows: 6 })
  }, 60_000)
})
