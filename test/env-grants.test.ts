/**
 * Issue 10, finding 11: a manifest's `env: [AWS_SECRET_ACCESS_KEY]` no longer receives the engine's value.
 * Env grants are filled from the workflow (its secrets and values) or, for names the operator lists in
 * `sandbox.passEnv`, from the engine's environment — and such a value is masked like a secret: not in logs,
 * outputs, errors, API responses, CLI output, the audit trail, the server's output or the SQLite file and WAL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { KEY, cleanEnv, cli, freePort, oneJson, root, startServerProcess, tempDir, type ServerProcess } from './server-helpers.ts'

const value = (tag: string) => `${tag}-${randomBytes(10).toString('hex')}/+ =é&`
/** The engine's variable the operator passes on, one it does not, its own AWS key, and the workflow's secret. */
const PASSED = value('passed')
const UNLISTED = value('unlisted')
const ENGINE_AWS = value('engine-aws')
const SECRET_AWS = value('secret-aws')
const sha = (s: string) => createHash('sha256').update(s).digest('hex')

const dir = tempDir('autokestra-envgrant-')
const port = freePort()
const url = `http://127.0.0.1:${port}`
const dbFile = join(dir, 'data', 'autokestra.db')
const env = cleanEnv({ WORKFLOW_SERVER_URL: url, WORKFLOW_API_KEY: KEY })
const auth = { authorization: `Bearer ${KEY}` }
const file = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f }
const config = file('config.yaml', [
  'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
  'storage:', '  path: ./data/autokestra.db', 'logging:', '  level: debug',
  'sandbox:', '  passEnv: [AK_PASSED_VALUE]',
  'plugins:', `  paths: [${join(root, 'plugins')}, ${join(root, 'test/fixtures/plugins/env-grant')}]`, '',
].join('\n'))
const workflowFile = file('envgrant.yaml', `id: envgrant
secrets: [AWS_KEY]
tasks:
  - id: mapped
    type: test/env-grant.spill
    env: { AWS_SECRET_ACCESS_KEY: "{{ secrets.AWS_KEY }}" }
  - id: bare
    type: test/env-grant.spill
    needs: [mapped]
  - id: boom
    type: test/env-grant.boom
    needs: [bare]
`)

/** Every collected text or byte buffer, by where it came from. */
const surfaces: { where: string; text: string | Buffer }[] = []
const seen = (where: string, text: string | Buffer) => { surfaces.push({ where, text }); return text }
const run = async (...args: string[]) => {
  const r = await cli(args, { env })
  seen(`cli ${args.join(' ')}`, r.stdout + r.stderr)
  return r
}
const api = async (path: string): Promise<any> => {
  const res = await fetch(url + path, { headers: auth })
  const text = seen(`GET ${path}`, await res.text()) as string
  expect(`${path} ${res.status}`).toBe(`${path} 200`)
  return JSON.parse(text)
}

let server: ServerProcess
let serverErr = ''
let drained: Promise<unknown> = Promise.resolve()
let executionId = ''

beforeAll(async () => {
  const serverEnv = cleanEnv({
    AUTOKESTRA_SECRET_KEY: randomBytes(32).toString('base64'),
    AK_PASSED_VALUE: PASSED, AK_UNLISTED_VALUE: UNLISTED, AWS_SECRET_ACCESS_KEY: ENGINE_AWS,
  })
  server = await startServerProcess(['bun', 'cli/main.ts'], config, port, serverEnv)
  drained = (async () => { for await (const c of server.proc.stderr as ReadableStream<Uint8Array>) serverErr += new TextDecoder().decode(c) })()
}, 30_000)
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('env grants are secrets (issue 10, finding 11)', () => {
  it('gives a plugin only the operator-passed engine variable and the task-mapped secret, never the rest', async () => {
    expect((await cli(['secrets', 'set', 'AWS_KEY', '--json'], { env, stdin: SECRET_AWS })).code).toBe(0)
    expect((await run('apply', workflowFile, '--json')).code).toBe(0)
    const t = await run('trigger', 'envgrant', '--wait', '--json')
    expect(t.code).toBe(1)
    executionId = oneJson(t).id
    const logs = await api(`/api/v1/executions/${executionId}/logs?limit=1000`)
    const received = (task: string) => JSON.parse(logs.items.find((l: { taskId: string; message: string }) =>
      l.taskId === task && l.message.startsWith('received '))!.message.slice('received '.length)) as Record<string, string>
    // The mapped task: the passed engine value and the workflow's secret (not the engine's AWS key).
    expect(received('mapped')).toEqual({ AK_PASSED_VALUE: sha(PASSED), AWS_SECRET_ACCESS_KEY: sha(SECRET_AWS) })
    // Without a mapping, the engine's AWS key and the unlisted variable stay out of reach.
    expect(received('bare')).toEqual({ AK_PASSED_VALUE: sha(PASSED) })
  }, 60_000)

  it('masks the passed engine value in logs, outputs and errors (positively: the plugin did spill it)', async () => {
    const detail = await api(`/api/v1/executions/${executionId}`)
    const byId = Object.fromEntries(detail.tasks.map((x: { taskId: string }) => [x.taskId, x]))
    expect(byId.mapped.output).toMatchObject({ AK_PASSED_VALUE: '***', AWS_SECRET_ACCESS_KEY: '***', 'AK_PASSED_VALUE:***': 'as a key' })
    expect(byId.boom.error).toMatchObject({ code: 'PLUGIN_ERROR', message: 'failed holding AK_PASSED_VALUE=***' })
    expect(byId.boom.error.details).toEqual({ AK_PASSED_VALUE: '***', pluginCode: 'ENV_LEAK' })
    const messages: string[] = (await api(`/api/v1/executions/${executionId}/logs?limit=1000`)).items.map((l: { message: string }) => l.message)
    for (const line of ['AK_PASSED_VALUE raw: ***', 'AK_PASSED_VALUE on stderr: ***', 'AWS_SECRET_ACCESS_KEY raw: ***']) expect(messages).toContain(line)
    expect(messages.some((m) => m.startsWith('AK_PASSED_VALUE url: *** keeps-slash: ***'))).toBe(true)
  })

  it('finds none of the values anywhere: API, CLI, audit, server output, database file and WAL', async () => {
    await api(`/api/v1/executions/${executionId}/audit`)
    await api('/api/v1/executions')
    for (const args of [['execution', 'inspect', executionId, '--audit', '--show-inputs'], ['execution', 'inspect', executionId, '--json'],
      ['execution', 'logs', executionId, '--limit', '1000'], ['execution', 'logs', executionId, '--json', '--limit', '1000']]) await run(...args)
    const events = await fetch(`${url}/api/v1/executions/${executionId}/events`, { headers: auth })
    seen('SSE', await events.text())
    for (const suffix of ['', '-wal', '-shm']) if (existsSync(dbFile + suffix)) seen(`db${suffix} (running)`, readFileSync(dbFile + suffix))
    expect(await server.stop()).toBe(0)
    await drained
    seen('server stderr', serverErr)
    for (const suffix of ['', '-wal']) if (existsSync(dbFile + suffix)) seen(`db${suffix} (stopped)`, readFileSync(dbFile + suffix))
    const needles = [PASSED, UNLISTED, ENGINE_AWS, SECRET_AWS].flatMap((v) => [v, v.slice(0, v.indexOf('/')), encodeURIComponent(v),
      Buffer.from(v).toString('base64').slice(4, -4), Buffer.from(v).toString('hex')])
    const leaks: string[] = []
    for (const { where, text } of surfaces) {
      for (const n of needles) if ((typeof text === 'string' ? text.indexOf(n) : text.indexOf(Buffer.from(n))) >= 0) leaks.push(`${where}: ${n}`)
    }
    expect(leaks).toEqual([])
    expect(surfaces.length).toBeGreaterThan(10)
  }, 60_000)
})
