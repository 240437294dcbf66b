/**
 * The v0.1 journey on the real server (child process, real SQLite file, real plugins), driven by the real
 * CLI and the Eden client: apply → list → get → trigger --wait → inspect → logs → restart → all intact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { call, createClient } from '../api/client.ts'
import { KEY, cleanEnv, cli, freePort, oneJson, startServerProcess, tempDir, waitUntil, writeConfig, type ServerProcess } from './server-helpers.ts'

const dir = tempDir('autokestra-journey-')
const port = freePort()
const config = writeConfig(dir, port)
const url = `http://127.0.0.1:${port}`
const env = cleanEnv({ WORKFLOW_SERVER_URL: url, WORKFLOW_API_KEY: KEY })
const run = (...args: string[]) => cli(args, { env })
let server: ServerProcess

const file = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f }
const hello = file('hello.yaml', `id: hello
inputs:
  name: { type: string, default: world }
  times: { type: number, default: 1 }
tasks:
  - id: greet
    type: core/log.info
    inputs: { message: "hello {{ inputs.name }} x{{ inputs.times }}" }
  - id: other
    type: core/log.info
    inputs: { message: "in parallel" }
  - id: last
    type: core/log.warn
    needs: [greet, other]
    inputs: { message: "done" }
`)
const broken = file('broken.yaml', 'id: broken\ntasks:\n  - id: a\n    type: core/log.info\n    inputs: { message: "{{ execution.nope }}" }\n')
const slow = file('slow.yaml', 'id: slow\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    inputs: { duration: 60s }\n')
const quick = file('quick.yaml', 'id: quick\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    inputs: { duration: 1s }\n  - id: say\n    type: core/log.info\n    needs: [nap]\n    inputs: { message: after the nap }\n')
let helloExecution = ''

beforeAll(async () => { server = await startServerProcess(['bun', 'cli/main.ts'], config, port) })
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('server journey', () => {
  it('answers /health and refuses /api/v1 without a key', async () => {
    const client = createClient(url)
    expect(await call(client.health.get(), url)).toMatchObject({ status: 'ok', runtime: 'enabled' })
    const r = await client.api.v1.workflows.get({ query: {} })
    expect(r.status).toBe(401)
  })

  it('applies, lists and gets a workflow with the CLI', async () => {
    const a = oneJson(await run('apply', hello, '--json'))
    expect(a).toMatchObject({ created: true, workflow: { id: 'hello', revision: 1 } })
    expect(oneJson(await run('apply', hello, '--json'))).toMatchObject({ created: false, changed: false })
    for (const f of [broken, slow, quick]) expect((await run('apply', f)).code).toBe(0)
    const list = oneJson(await run('list', '--json'))
    expect(list.total).toBe(4)
    expect(list.items.map((w: { id: string }) => w.id)).toEqual(['broken', 'hello', 'quick', 'slow'])
    const get = await run('get', 'hello')
    expect(get.stdout).toContain('type: core/log.warn')
    expect(oneJson(await run('get', 'hello', '--json')).workflow.inputs).toHaveLength(2)
  })

  it('triggers with typed inputs and waits for SUCCESS, then inspects and reads logs', async () => {
    const t = await run('trigger', 'hello', '--input', 'name=Ada', '--input', 'times=3', '--wait', '--json')
    expect(t.code).toBe(0)
    const ex = oneJson(t)
    helloExecution = ex.id
    expect(ex).toMatchObject({ state: 'SUCCESS', trigger: { type: 'manual' }, inputs: { name: 'Ada', times: 3 } })
    expect(ex.tasks.map((x: { state: string }) => x.state)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS'])
    const human = await run('execution', 'inspect', ex.id, '--timeline', '--audit', '--show-inputs')
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/TASK\s+TYPE\s+STATE\s+ATTEMPTS\s+DURATION/)
    expect(human.stdout).toContain('Timeline')
    expect(human.stdout).toContain('COMPLETED')
    expect(human.stdout).toContain('hello {{ inputs.name }}')
    const logs = oneJson(await run('execution', 'logs', ex.id, '--json'))
    const messages = logs.items.map((l: { message: string }) => l.message)
    expect(messages).toContain('hello Ada x3')
    expect(messages.indexOf('done')).toBeLessThan(messages.indexOf('hello Ada x3'))
    const warn = oneJson(await run('execution', 'logs', ex.id, '--level', 'WARN,ERROR', '--since', '10m', '--json'))
    expect(warn.items.map((l: { message: string }) => l.message)).toEqual(['done'])
    expect(oneJson(await run('execution', 'logs', ex.id, '--task', 'greet', '--limit', '1', '--json')).items).toHaveLength(1)
  })

  it('exits 1 with --wait when the execution fails, and the detail says why', async () => {
    const t = await run('trigger', 'broken', '--wait', '--json')
    expect(t.code).toBe(1)
    const ex = oneJson(t)
    expect(ex.state).toBe('FAILED')
    expect(ex.tasks[0].error.code).toBeString()
  })

  it('drives the same journey with the Eden client', async () => {
    const client = createClient(url, KEY)
    const started = await call(client.api.v1.workflows({ id: 'hello' }).executions.post({ inputs: { name: 'Eden' } }), url)
    expect(started.trigger.type).toBe('api')
    let state = started.state
    await waitUntil('the execution to end', async () => {
      state = (await call(client.api.v1.executions({ id: started.id }).get(), url)).state
      return state === 'SUCCESS' || state === 'FAILED'
    })
    expect(state).toBe('SUCCESS')
    const logs = await call(client.api.v1.executions({ id: started.id }).logs.get({ query: { level: 'INFO' } }), url)
    expect(logs.items.map((l) => l.message)).toContain('hello Eden x1')
    const bad = await client.api.v1.workflows({ id: 'hello' }).executions.post({ inputs: { times: 'many' } })
    expect(bad.status).toBe(400)
  })

  it('follows logs until the end (exit 0) and cancels idempotently', async () => {
    const q = oneJson(await run('trigger', 'quick', '--json'))
    const f = await run('execution', 'logs', q.id, '--follow', '--json')
    expect(f.code).toBe(0)
    const doc = oneJson(f)
    expect(doc.execution.state).toBe('SUCCESS')
    expect(doc.items.map((l: { message: string }) => l.message)).toContain('after the nap')
    const s = oneJson(await run('trigger', 'slow', '--json'))
    const c = oneJson(await run('execution', 'cancel', s.id, '--json'))
    // The answer comes once the processes are gone and the execution is CANCELLED.
    expect(c.state).toBe('CANCELLED')
    expect(oneJson(await run('execution', 'inspect', s.id, '--json')).state).toBe('CANCELLED')
    expect(oneJson(await run('execution', 'cancel', s.id, '--json')).state).toBe('CANCELLED')
    const list = oneJson(await run('execution', 'list', '--state', 'CANCELLED', '--json'))
    expect(list.items.map((e: { id: string }) => e.id)).toEqual([s.id])
  })

  it('manages secrets over HTTP only', async () => {
    expect((await cli(['secrets', 'set', 'api_token'], { env, stdin: 'v3ry-s3cret\n' })).code).toBe(0)
    const list = oneJson(await run('secrets', 'list', '--json'))
    expect(list.items.map((s: { name: string }) => s.name)).toEqual(['API_TOKEN'])
    expect(JSON.stringify(list)).not.toContain('v3ry')
    expect(oneJson(await run('secrets', 'get', 'API_TOKEN', '--json'))).toEqual({ name: 'API_TOKEN', value: 'v3ry-s3cret' })
    expect((await run('secrets', 'set', 'bad-name', 'x', '--json')).code).toBe(2)
    expect(oneJson(await run('secrets', 'delete', 'api_token', '--force', '--json'))).toEqual({ name: 'API_TOKEN', deleted: true })
    const gone = await run('secrets', 'get', 'api_token', '--json')
    expect(gone.code).toBe(4)
    expect(oneJson(gone).error.code).toBe('SECRET_NOT_FOUND')
  })

  it('answers 401 on every /api/v1 route of the OpenAPI document without a key', async () => {
    const doc = await (await fetch(`${url}/openapi/json`)).json() as { paths: Record<string, Record<string, unknown>> }
    let checked = 0
    for (const [path, methods] of Object.entries(doc.paths)) {
      if (!path.startsWith('/api/v1/') || path.startsWith('/api/v1/webhooks')) continue
      for (const method of Object.keys(methods)) {
        const res = await fetch(url + path.replace(/\{[^}]+\}/g, 'x'), { method: method.toUpperCase() })
        expect(`${method} ${path} ${res.status}`).toBe(`${method} ${path} 401`)
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED')
        checked++
      }
    }
    expect(checked).toBeGreaterThanOrEqual(14)
  })

  it('answers malformed JSON and YAML with 400 and the error shape, never 500', async () => {
    const h = { authorization: `Bearer ${KEY}` }
    const cases: [string, string, string, string][] = [
      ['PUT', '/api/v1/workflows/x', 'application/json', '{"source": '],
      ['PUT', '/api/v1/workflows/x', 'text/yaml', 'id: [unclosed\n  - : :'],
      ['PUT', '/api/v1/workflows/x', 'application/json', '[1,2]'],
      ['POST', '/api/v1/workflows/hello/executions', 'application/json', '{"inputs": 5}'],
      ['POST', '/api/v1/workflows/hello/executions', 'application/json', 'nope'],
      ['PUT', '/api/v1/secrets/A', 'application/json', '{"value": {}}'],
      ['PATCH', '/api/v1/workflows/hello', 'application/json', '{"enabled": "yes"}'],
    ]
    for (const [method, path, type, body] of cases) {
      const res = await fetch(url + path, { method, headers: { ...h, 'content-type': type }, body })
      const json = await res.json() as { error: { code: string; message: string } }
      expect(`${method} ${path} ${body} → ${res.status}`).toBe(`${method} ${path} ${body} → 400`)
      expect(json.error.code).toMatch(/^INVALID_/)
    }
  })

  it('keeps workflows, executions and logs across a restart on the same database', async () => {
    expect(await server.stop()).toBe(0)
    server = await startServerProcess(['bun', 'cli/main.ts'], config, port)
    expect(oneJson(await run('list', '--json')).total).toBe(4)
    const ex = oneJson(await run('execution', 'inspect', helloExecution, '--json'))
    expect(ex).toMatchObject({ id: helloExecution, state: 'SUCCESS', inputs: { name: 'Ada', times: 3 } })
    const logs = oneJson(await run('execution', 'logs', helloExecution, '--json'))
    expect(logs.items.map((l: { message: string }) => l.message)).toContain('hello Ada x3')
    expect(oneJson(await run('execution', 'list', '--json')).total).toBeGreaterThanOrEqual(5)
  })
})

describe('CLI exit codes and --json errors', () => {
  it('2: invalid workflow file or usage', async () => {
    const r = await run('apply', broken.replace('broken.yaml', 'missing.yaml'), '--json')
    expect(r.code).toBe(2)
    expect(oneJson(r).error.code).toBe('INVALID_INPUT')
    const bad = await run('apply', file('bad.yaml', 'id: Bad!\ntasks: []\n'), '--json')
    expect(bad.code).toBe(2)
    expect(oneJson(bad).error.details.issues.length).toBeGreaterThan(0)
    expect((await run('execution', 'frobnicate', '--json')).code).toBe(2)
    expect((await run('trigger', 'hello', '--input', 'times=lots', '--json')).code).toBe(2)
  })

  it('3: a server without an API key refuses to start, explaining how to add one', async () => {
    const cfg = writeConfig(mkdtempSync(join(dir, 'nokey-')), freePort(), { apiKeys: [] })
    const r = await cli(['server', 'start', '-c', cfg, '--json'])
    expect(r.code).toBe(3)
    const e = oneJson(r).error
    expect(e.code).toBe('INVALID_CONFIG')
    expect(e.message).toContain('server.apiKeys')
    expect(e.message).toContain('WORKFLOW_API_KEYS')
  })

  it('4: unknown workflow or execution', async () => {
    for (const args of [['get', 'nope'], ['execution', 'inspect', 'ex_nope'], ['delete', 'nope'], ['trigger', 'nope']]) {
      const r = await run(...args, '--json')
      expect(r.code).toBe(4)
      expect(oneJson(r).error.code).toBe('NOT_FOUND')
    }
  })

  it('5: server unreachable', async () => {
    const r = await cli(['list', '--server', `http://127.0.0.1:${freePort()}`, '--api-key', KEY, '--json'])
    expect(r.code).toBe(5)
    expect(oneJson(r).error.code).toBe('SERVER_UNREACHABLE')
  })

  it('6: bad API key (flags win over env)', async () => {
    const r = await cli(['list', '--api-key', 'wrong', '--json'], { env })
    expect(r.code).toBe(6)
    expect(oneJson(r).error.code).toBe('UNAUTHORIZED')
  })

  it('reads the server and key from the config file when no flag or env says otherwise', async () => {
    const r = await cli(['execution', 'list', '-c', config, '--limit', '1', '--json'])
    expect(r.code).toBe(0)
    expect(oneJson(r).limit).toBe(1)
    expect(oneJson(await cli(['server', 'status', '-c', config, '--json']))).toMatchObject({ running: true, health: { status: 'ok' } })
  })

  it('lists and inspects plugins locally, without a server', async () => {
    const list = oneJson(await cli(['plugin', 'list', '-c', config, '--json']))
    expect(list.items.map((p: { id: string }) => p.id)).toEqual(expect.arrayContaining(['core/log', 'core/sleep']))
    expect(oneJson(await cli(['plugin', 'inspect', 'core/log', '-c', config, '--json'])).actions.map((a: { name: string }) => a.name).sort()).toEqual(['error', 'info', 'log', 'warn'].sort())
    expect((await cli(['plugin', 'inspect', 'core/nope', '-c', config, '--json'])).code).toBe(4)
  })
})

describe('server daemon', () => {
  it('starts detached with a pid file, reports status, stops with SIGTERM', async () => {
    const d = mkdtempSync(join(dir, 'detach-'))
    const cfg = writeConfig(d, freePort())
    const start = await cli(['server', 'start', '--detach', '-c', cfg, '--json'])
    expect(start.code).toBe(0)
    const info = oneJson(start)
    expect(info).toMatchObject({ status: 'started', pidFile: join(d, 'data', 'autokestra.pid') })
    expect(oneJson(await cli(['server', 'status', '-c', cfg, '--json']))).toMatchObject({ running: true, pid: info.pid })
    expect((await cli(['server', 'start', '--detach', '-c', cfg, '--json'])).code).toBe(1)
    expect(oneJson(await cli(['server', 'stop', '-c', cfg, '--json']))).toEqual({ status: 'stopped', pid: info.pid })
    expect((await cli(['server', 'status', '-c', cfg, '--json'])).code).toBe(5)
    expect((await cli(['server', 'stop', '-c', cfg, '--json'])).code).toBe(4)
    rmSync(d, { recursive: true, force: true })
  })
})
