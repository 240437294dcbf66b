/**
 * Expressions, `if:`, outputs and the plugin checks through the real server process, the real CLI and the Eden
 * client: a webhook body that holds a template is data, the execution's outputs are in the API DTO and in
 * `execution inspect`, and what a run would fail on is refused by `validate` and at apply with line and column.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { call, createClient } from '../api/client.ts'
import { KEY, cleanEnv, cli, freePort, oneJson, root, startServerProcess, tempDir, waitUntil, type ServerProcess } from './server-helpers.ts'

const SECRET = `srv-${randomBytes(9).toString('hex')}`
const dir = tempDir('autokestra-cf-server-')
const port = freePort()
const url = `http://127.0.0.1:${port}`
const env = cleanEnv({ WORKFLOW_SERVER_URL: url, WORKFLOW_API_KEY: KEY })
const auth = { authorization: `Bearer ${KEY}` }
const file = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f }
const run = (...args: string[]) => cli(args, { env })
let server: ServerProcess
/** Every API answer and CLI output read, to look for the secret in. */
const seen: string[] = []

beforeAll(async () => {
  const config = file('config.yaml', [
    'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
    'storage:', '  path: ./data/autokestra.db', 'plugins:', `  paths: [${join(root, 'plugins')}]`, '',
  ].join('\n'))
  server = await startServerProcess(['bun', 'cli/main.ts'], config, port, cleanEnv({ AUTOKESTRA_SECRET_KEY: randomBytes(32).toString('base64') }))
}, 30_000)
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const hook = file('hook.yaml', `id: hook
secrets: [TOKEN]
inputs: { msg: { type: string }, notify: { type: boolean, default: false } }
triggers: [{ type: webhook }]
outputs:
  echoed: "{{ tasks.echo.output.message }}"
  length: "{{ size(tasks.echo.output.message) }}"
  notified: "{{ tasks.notify.state }}"
tasks:
  - { id: echo, type: core/log.info, inputs: { message: "{{ inputs.msg }}" } }
  - { id: notify, type: core/log.info, needs: [echo], if: inputs.notify, inputs: { message: "Bearer {{ secrets.TOKEN }}" } }
  - { id: after, type: core/log.info, needs: [notify], inputs: { message: "{{ tasks.echo.output.message }}" } }
  - { id: auth, type: core/log.info, inputs: { message: "Bearer {{ secrets.TOKEN }}" } }
`)

describe('through the server', () => {
  let webhookPath = ''

  it('applies a workflow with if:, outputs and CEL (the CLI validates against this machine\'s plugins first)', async () => {
    expect((await cli(['secrets', 'set', 'TOKEN', '--json'], { env, stdin: SECRET })).code).toBe(0)
    const v = await run('validate', hook, '--json')
    expect(v.code).toBe(0)
    const a = oneJson(await run('apply', hook, '--json'))
    expect(a.created).toBe(true)
    webhookPath = a.webhook.path
    expect(webhookPath).toStartWith('/api/v1/webhooks/hook/')
  })

  it('treats a webhook body holding {{ secrets.TOKEN }} as data: it reaches the plugin and the outputs as that text', async () => {
    const res = await fetch(url + webhookPath, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ msg: '{{ secrets.TOKEN }}' }) })
    expect(res.status).toBe(202)
    const { executionId: id } = (await res.json()) as { executionId: string }
    const client = createClient(url, KEY)
    let detail = await call(client.api.v1.executions({ id }).get(), url)
    await waitUntil('the execution to end', async () => {
      detail = await call(client.api.v1.executions({ id }).get(), url)
      return detail.state === 'SUCCESS' || detail.state === 'FAILED'
    }).catch((e) => { throw new Error(`${e}: ${JSON.stringify(detail)}`) })
    seen.push(JSON.stringify(detail))
    expect(detail.state).toBe('SUCCESS')
    const task = (t: string) => detail.tasks.find((r) => r.taskId === t)!
    expect(task('echo').output).toEqual({ message: '{{ secrets.TOKEN }}' })
    expect(task('notify')).toMatchObject({ state: 'SKIPPED', reason: 'CONDITION_FALSE', if: 'inputs.notify' })
    expect(task('after')).toMatchObject({ state: 'SKIPPED', reason: 'DEPENDENCY_SKIPPED' })
    expect(task('auth').output).toEqual({ message: 'Bearer ***' })
    // The Eden client's types carry the outputs (a compile error otherwise: test/typecheck.test.ts).
    const outputs: Record<string, unknown> | undefined = detail.outputs
    expect(outputs).toEqual({ echoed: '{{ secrets.TOKEN }}', length: 19, notified: 'SKIPPED' })

    const inspect = await run('execution', 'inspect', id)
    seen.push(inspect.stdout, inspect.stderr)
    expect(inspect.code).toBe(0)
    expect(inspect.stdout).toContain('SKIPPED (CONDITION_FALSE)')
    expect(inspect.stdout).toContain('Outputs')
    expect(inspect.stdout).toContain('echoed = "{{ secrets.TOKEN }}"')
    expect(inspect.stdout).toContain('length = 19')
    const json = oneJson(await run('execution', 'inspect', id, '--json'))
    expect(json.outputs).toEqual(outputs)
    const logs = await fetch(`${url}/api/v1/executions/${id}/logs?limit=500`, { headers: auth })
    seen.push(await logs.text())
    for (const s of seen) expect(s).not.toContain(SECRET)
  })
})

describe('what a run would fail on is refused before it runs', () => {
  const bad = file('bad.yaml', [
    'id: bad', 'inputs: { name: { type: string } }', 'tasks:',
    '  - id: nope', '    type: core/nope.x',
    '  - id: typo', '    type: core/log.info', '    inputs:', '      mesage: "hello {{ inputs.name }}"',
    '  - id: late', '    type: core/sleep.wait', '    inputs: { duration: "{{ inputs.name }}" }', '',
  ].join('\n'))

  it('workflow validate names each issue with file:line:column', async () => {
    const r = await run('validate', bad)
    expect(r.code).toBe(2)
    expect(r.stdout + r.stderr).toContain(`${bad}:5:11  tasks[0].type  UNKNOWN_TASK_TYPE`)
    expect(r.stdout + r.stderr).toContain(`${bad}:9:7  tasks[1].inputs.mesage  INVALID_TASK_INPUT`)
    const j = oneJson(await run('validate', bad, '--json'))
    expect(j.issues.map((i: { path: string; code: string }) => `${i.path} ${i.code}`)).toEqual([
      'tasks[0].type UNKNOWN_TASK_TYPE', 'tasks[1].inputs.message INVALID_TASK_INPUT', 'tasks[1].inputs.mesage INVALID_TASK_INPUT',
    ])
  })

  it('the server refuses it at apply with the same issues, lines and columns, and stores nothing', async () => {
    const res = await fetch(`${url}/api/v1/workflows/bad`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/yaml' }, body: await Bun.file(bad).text() })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: { code: string; details: { issues: { path: string; code: string; line?: number; column?: number }[] } } }
    expect(body.error.code).toBe('INVALID_WORKFLOW')
    expect(body.error.details.issues).toEqual([
      expect.objectContaining({ path: 'tasks[0].type', code: 'UNKNOWN_TASK_TYPE', line: 5, column: 11 }),
      expect.objectContaining({ path: 'tasks[1].inputs.message', code: 'INVALID_TASK_INPUT', line: 9, column: 7 }),
      expect.objectContaining({ path: 'tasks[1].inputs.mesage', code: 'INVALID_TASK_INPUT', line: 9, column: 7 }),
    ])
    const a = await run('apply', bad, '--json')
    expect(a.code).toBe(2)
    expect(oneJson(a).error.details.issues.map((i: { code: string }) => i.code)).toContain('UNKNOWN_TASK_TYPE')
    expect((await fetch(`${url}/api/v1/workflows/bad`, { headers: auth })).status).toBe(404)
  })
})
