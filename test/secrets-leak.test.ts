/**
 * The secrets leak test (issue 6, invariant 5): a hostile-but-permitted plugin gets a secret through its
 * input and its env and spills it everywhere; the value must then be nowhere — not in the database bytes
 * (file, WAL, SHM), the server's own output, any API response, any CLI output — and `***` must be there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { KEY, cleanEnv, cli, freePort, oneJson, root, startServerProcess, tempDir, waitUntil, type CliResult, type ServerProcess } from './server-helpers.ts'

const core = randomBytes(12).toString('hex')
/** Distinctive, with chars whose URL and base64 forms differ from the raw value. */
const SECRET = `lk-${core} /+:@&x`
const dir = tempDir('autokestra-leak-')
const port = freePort()
const url = `http://127.0.0.1:${port}`
const dbFile = join(dir, 'data', 'autokestra.db')
const env = cleanEnv({ WORKFLOW_SERVER_URL: url, WORKFLOW_API_KEY: KEY })
const auth = { authorization: `Bearer ${KEY}` }

/** Every form a leak could take: raw, its random core, base64 (std/url, at each byte alignment), URL/form-encoded. */
function needles(value: string): string[] {
  // Halves of the random core catch a value cut in two (one half survives any single cut).
  const out = new Set([value, core, core.slice(0, 12), core.slice(12), encodeURIComponent(value), encodeURIComponent(value).replace(/%20/g, '+'), encodeURIComponent(core)])
  const bytes = Buffer.from(value)
  for (let shift = 0; shift < 3; shift++) {
    const enc = Buffer.concat([Buffer.alloc(shift, 0x41), bytes, Buffer.from('AA')]).toString('base64')
    // The chars that depend only on the value, minus a margin on each side.
    const mid = enc.slice(Math.ceil((shift * 4) / 3) + 4, Math.floor(((shift + bytes.length) * 4) / 3) - 4)
    out.add(mid)
    out.add(mid.replace(/\+/g, '-').replace(/\//g, '_'))
  }
  return [...out]
}
const NEEDLES = needles(SECRET)

/** Every text and byte buffer the test collected, by where it came from. */
const surfaces: { where: string; text: string | Buffer }[] = []
const seen = (where: string, text: string | Buffer) => { surfaces.push({ where, text }); return text }
const run = async (...args: string[]): Promise<CliResult> => {
  const r = await cli(args, { env })
  seen(`cli ${args.join(' ')} (stdout)`, r.stdout)
  seen(`cli ${args.join(' ')} (stderr)`, r.stderr)
  return r
}
const api = async (path: string): Promise<any> => {
  const res = await fetch(url + path, { headers: auth })
  const text = await res.text()
  seen(`GET ${path} → ${res.status}`, text)
  expect(`${path} ${res.status}`).toBe(`${path} 200`)
  return JSON.parse(text)
}
/** Reads an SSE stream to its end (the server closes it after `end`). */
const sse = async (path: string): Promise<string> => {
  const res = await fetch(url + path, { headers: auth })
  expect(res.status).toBe(200)
  return seen(`SSE ${path}`, await res.text()) as string
}
/** The raw bytes of the database and its side files, as they are on disk right now. */
const readDbFiles = (when: string): number => {
  let n = 0
  for (const suffix of ['', '-wal', '-shm']) {
    if (!existsSync(dbFile + suffix)) continue
    seen(`${when}: ${dbFile}${suffix}`, readFileSync(dbFile + suffix))
    n++
  }
  return n
}

const file = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f }
const leakyYaml = file('leaky.yaml', `id: leaky
description: spills its secret everywhere
secrets: [LEAK_TOKEN]
tasks:
  - id: first
    type: test/leaky.spill
    retry: { max: 1, backoff: { type: fixed, delay: 50ms } }
    env: { LEAKY_TOKEN: "{{ secrets.LEAK_TOKEN }}" }
    inputs:
      token: "{{ secrets.LEAK_TOKEN }}"
      header: "Bearer {{ secrets.leak_token }}"
      failFirstAttempt: true
  - id: second
    type: test/leaky.relay
    needs: [first]
    inputs:
      fromOutput: "{{ tasks.first.output }}"
      direct: "{{ secrets.LEAK_TOKEN }}"
  - id: third
    type: test/leaky.explode
    needs: [second]
    inputs: { token: "{{ secrets.LEAK_TOKEN }}" }
  - id: shape
    type: test/leaky.shape
    needs: [second]
    inputs: { token: "{{ secrets.LEAK_TOKEN }}" }
`)

let server: ServerProcess
const serverOutput = { stdout: '', stderr: '' }
const drain = async (stream: ReadableStream<Uint8Array>, key: 'stdout' | 'stderr') => {
  const decoder = new TextDecoder()
  for await (const chunk of stream) serverOutput[key] += decoder.decode(chunk, { stream: true })
}
let drained: Promise<unknown> = Promise.resolve()
const executions: string[] = []

beforeAll(async () => {
  const config = file('config.yaml', [
    'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
    'storage:', '  path: ./data/autokestra.db', 'logging:', '  level: debug',
    'plugins:', `  paths: [${join(root, 'plugins')}, ${join(root, 'test/fixtures/plugins/leaky')}]`, '',
  ].join('\n'))
  const serverEnv = cleanEnv({ AUTOKESTRA_SECRET_KEY: randomBytes(32).toString('base64') })
  server = await startServerProcess(['bun', 'cli/main.ts'], config, port, serverEnv)
  drained = Promise.all([drain(server.proc.stdout as ReadableStream<Uint8Array>, 'stdout'), drain(server.proc.stderr as ReadableStream<Uint8Array>, 'stderr')])
}, 30_000)

afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('secrets never leak', () => {
  it('sets the secret through the CLI (value on stdin) and applies the workflow', async () => {
    const set = await cli(['secrets', 'set', 'leak_token', '--json'], { env, stdin: SECRET })
    expect(set.code).toBe(0)
    seen('cli secrets set (stdout)', set.stdout)
    seen('cli secrets set (stderr)', set.stderr)
    expect((await run('apply', leakyYaml, '--json')).code).toBe(0)
    // The store holds exactly what was typed (a trimmed or altered value would make the scan meaningless).
    expect(oneJson(await cli(['secrets', 'get', 'LEAK_TOKEN', '--json'], { env })).value).toBe(SECRET)
  })

  it('runs the hostile workflow (trigger --wait), live streams included', async () => {
    const t = await run('trigger', 'leaky', '--wait', '--json')
    expect(t.code).toBe(1) // the third task throws on purpose
    const ex = oneJson(t)
    executions.push(ex.id)
    expect(ex.state).toBe('FAILED')
    const byId = Object.fromEntries(ex.tasks.map((x: { taskId: string }) => [x.taskId, x]))
    expect(byId.first.state).toBe('SUCCESS')
    expect(byId.second.state).toBe('SUCCESS')
    expect(byId.third.state).toBe('FAILED')
    expect(byId.shape.error.code).toBe('INVALID_TASK_OUTPUT')
    expect(byId.shape.error.message).toContain('***: is not an allowed property')

    // A second run, watched live: trigger --wait --logs (CLI over SSE) and, for a third, raw SSE + follow.
    const live = await run('trigger', 'leaky', '--wait', '--logs')
    expect(live.code).toBe(1)
    expect(live.stdout).toContain('***')
    const started = oneJson(await run('trigger', 'leaky', '--json'))
    executions.push(started.id)
    const [stream, follow] = await Promise.all([sse(`/api/v1/executions/${started.id}/events`), run('execution', 'logs', started.id, '--follow')])
    expect(stream).toContain('event: end')
    expect(follow.stdout).toContain('***')
    const all = await api('/api/v1/executions?workflowId=leaky&limit=50')
    expect(all.total).toBe(3)
    for (const e of all.items) if (!executions.includes(e.id)) executions.push(e.id)
    await waitUntil('every run to end', async () => (await api('/api/v1/executions?workflowId=leaky&state=FAILED')).total === 3)
  }, 90_000)

  it('masks in logs, outputs and errors — positively, so the scan below is not vacuous', async () => {
    const id = executions[0]!
    const detail = await api(`/api/v1/executions/${id}`)
    const first = detail.tasks.find((t: { taskId: string }) => t.taskId === 'first')
    expect(first.output.token).toBe('***')
    expect(first.output.header).toBe('Bearer ***')
    expect(first.output.env).toBe('***')
    expect(first.output.nested.list[0]).toBe('***')
    expect(first.output.nested.list[1].deeper).toBe('Bearer ***')
    expect(first.output.encoded).toEqual({ b64: '***', url: '***' })
    expect(first.output['***']).toBe('a key that is the secret')
    // The thrown error of attempt 1 (message and details) is kept on the attempt history, masked.
    expect(first.history[0].error).toMatchObject({ code: 'PLUGIN_ERROR', message: 'first attempt failed with token *** (b64 ***)' })
    expect(first.history[0].error.details).toMatchObject({ token: '***', url: '***', nested: [{ env: '***' }] })
    const second = detail.tasks.find((t: { taskId: string }) => t.taskId === 'second')
    expect(second.output.direct).toBe('***')
    expect(second.output.fromOutput.token).toBe('***')
    expect(JSON.stringify(detail.error)).toContain('***')
    const logs = await api(`/api/v1/executions/${id}/logs?limit=1000`)
    const messages: string[] = logs.items.map((l: { message: string }) => l.message)
    for (const label of ['input raw: ***', 'input split on stdout: ***', 'input split on stderr: ***', 'env raw: ***', 'direct raw: ***',
      'input url-encoded: https://api.example/?token=***&x=1', 'input via ctx.log.warn: ***', 'env present: true same as input: true']) {
      expect(messages.some((m) => m.includes(label))).toBe(true)
    }
    // The over-long line the runner cut in two, right inside the secret, is joined again and masked whole.
    expect(messages.filter((m) => m.endsWith('input*** long line end'))).toHaveLength(2)
    expect(messages).toContain('PLUGIN_ERROR: first attempt failed with token *** (b64 ***)')
    expect(messages.some((m) => m.includes('boom while holding ***'))).toBe(true)
  })

  it('collects every API response and CLI output', async () => {
    for (const id of executions) {
      await api(`/api/v1/executions/${id}`)
      await api(`/api/v1/executions/${id}/audit`)
      await api(`/api/v1/executions/${id}/logs`)
      let offset = 0
      for (let page = 0; ; page++) {
        const p = await api(`/api/v1/executions/${id}/logs?limit=7&offset=${offset}`)
        offset += p.items.length
        if (!p.hasMore) break
        expect(page).toBeLessThan(1000)
      }
      expect(offset).toBeGreaterThan(40)
      await sse(`/api/v1/executions/${id}/events`)
      expect((await run('execution', 'inspect', id, '--json')).code).toBe(0)
      expect((await run('execution', 'inspect', id, '--show-inputs', '--audit', '--timeline')).code).toBe(0)
      expect((await run('execution', 'inspect', id, '--show-inputs', '--audit', '--json')).code).toBe(0)
      expect((await run('execution', 'logs', id)).code).toBe(0)
      expect((await run('execution', 'logs', id, '--json', '--limit', '1000')).code).toBe(0)
      expect((await run('execution', 'logs', id, '--limit', '5', '--offset', '5')).code).toBe(0)
    }
    await api('/api/v1/executions')
    await api('/api/v1/workflows')
    await api('/api/v1/workflows/leaky')
    const secrets = await api('/api/v1/secrets')
    expect(secrets.items.map((s: { name: string }) => s.name)).toEqual(['LEAK_TOKEN'])
    for (const args of [['get', 'leaky'], ['get', 'leaky', '--json'], ['list'], ['list', '--json'], ['execution', 'list'],
      ['execution', 'list', '--json'], ['secrets', 'list'], ['secrets', 'list', '--json']]) expect((await run(...args)).code).toBe(0)
    const inspected = oneJson(await run('execution', 'inspect', executions[0]!, '--json'))
    expect(JSON.stringify(inspected)).toContain('***')
  }, 120_000)

  it('never echoes a secret value in API or CLI errors about a bad secret request', async () => {
    const put = async (name: string, body: string) => {
      const res = await fetch(`${url}/api/v1/secrets/${name}`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body })
      seen(`PUT /api/v1/secrets/${name} ${body.slice(0, 40)} → ${res.status}`, await res.text())
      return res.status
    }
    expect(await put('bad-name!', JSON.stringify({ value: SECRET }))).toBe(400)
    expect(await put('OTHER', JSON.stringify({ value: [SECRET] }))).toBe(400)
    expect(await put('OTHER', JSON.stringify({ value: { v: SECRET } }))).toBe(400)
    expect(await put('OTHER', JSON.stringify({ value: SECRET.padEnd(70_000, 'y') }))).toBe(400)
    expect(await put('OTHER', `{"value": "${SECRET}"`)).toBe(400)
    expect((await run('secrets', 'set', 'bad-name!', SECRET, '--json')).code).toBe(2)
    expect((await run('secrets', 'set', 'bad-name!', SECRET)).code).toBe(2)
  })

  it('rejects a template naming an undeclared secret at apply, and fails a missing one with SECRET_NOT_FOUND', async () => {
    const undeclared = file('undeclared.yaml', `id: sneaky
secrets: [LEAK_TOKEN]
tasks:
  - id: a
    type: test/leaky.relay
    inputs: { direct: "{{ secrets.OTHER_TOKEN }}" }
`)
    const r = await run('apply', undeclared, '--json')
    expect(r.code).toBe(2)
    expect(JSON.stringify(oneJson(r).error)).toContain('UNDECLARED_SECRET')
    expect(JSON.stringify(oneJson(r).error)).toContain('OTHER_TOKEN')
    expect((await run('get', 'sneaky', '--json')).code).toBe(4)

    const missing = file('missing.yaml', `id: missing
secrets: [LEAK_TOKEN, NOT_THERE]
tasks:
  - id: a
    type: test/leaky.relay
    inputs: { direct: "{{ secrets.NOT_THERE }} and {{ secrets.LEAK_TOKEN }}" }
`)
    expect((await run('apply', missing, '--json')).code).toBe(0)
    const t = await run('trigger', 'missing', '--wait', '--json')
    expect(t.code).toBe(1)
    const task = oneJson(t).tasks[0]
    expect(task.state).toBe('FAILED')
    expect(task.error.code).toBe('SECRET_NOT_FOUND')
    expect(task.error.message).toContain('NOT_THERE')
  }, 30_000)

  it('finds the value nowhere: database file, WAL and SHM (running, then stopped), server output, every response', async () => {
    expect(readDbFiles('while running')).toBeGreaterThanOrEqual(2) // the file and its WAL at least
    expect(await server.stop()).toBe(0)
    await drained
    seen('server stdout', serverOutput.stdout)
    seen('server stderr', serverOutput.stderr)
    expect(serverOutput.stderr).toContain('listening on')
    readDbFiles('after stop')
    const leaks: string[] = []
    for (const { where, text } of surfaces) {
      for (const n of NEEDLES) {
        const hit = typeof text === 'string' ? text.indexOf(n) : text.indexOf(Buffer.from(n))
        if (hit >= 0) {
          const s = typeof text === 'string' ? text : text.toString('latin1')
          leaks.push(`${where}: found ${JSON.stringify(n)} in …${s.slice(Math.max(0, hit - 80), hit + n.length + 40)}…`)
          break // one report per surface is enough
        }
      }
    }
    expect(leaks).toEqual([])
    expect(surfaces.length).toBeGreaterThan(60)
  }, 30_000)
})
