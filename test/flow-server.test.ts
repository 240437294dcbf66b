/**
 * Labels and per-workflow concurrency through the real server (child process, real SQLite file, real plugins, a real
 * HTTP server on 127.0.0.1), the real CLI and the Eden client: labels merged at trigger time, filtered in
 * `execution list` and the API, refused with stable codes; `cancel-new` answering 201 with the CANCELLED execution,
 * and the same rule for a webhook; and `workflow run --label` on the embedded engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { KEY, cleanEnv, cli, freePort, oneJson, startServerProcess, tempDir, writeConfig, type ServerProcess } from './server-helpers.ts'

const dir = tempDir('ak-flow-server-')
const port = freePort()
const config = writeConfig(dir, port)
const url = `http://127.0.0.1:${port}`
const env = cleanEnv({ WORKFLOW_SERVER_URL: url, WORKFLOW_API_KEY: KEY })
const run = (...args: string[]) => cli(args, { env })
const api = (path: string, init: RequestInit = {}) =>
  fetch(`${url}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...init.headers } })
const file = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f }
let server: ServerProcess

const labelled = file('labelled.yaml', 'id: labelled\nlabels: { team: data, env: dev }\ntasks:\n  - { id: say, type: core/log.info, inputs: { message: hi } }\n')
const single = file('single.yaml', `id: single
labels: { team: ops }
concurrency: { limit: 1, behavior: cancel-new }
triggers:
  - type: webhook
tasks:
  - { id: nap, type: core/sleep.wait, inputs: { duration: 60s } }
`)
let webhookPath = ''

beforeAll(async () => {
  server = await startServerProcess(['bun', 'cli/main.ts'], config, port)
  expect((await run('apply', labelled)).code).toBe(0)
  const applied = oneJson(await run('apply', single, '--json'))
  webhookPath = applied.webhook.path
})
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('labels over the API and the CLI', () => {
  it('merges trigger-time labels over the workflow\'s (CLI trigger and API start), and filters the list by them', async () => {
    const byCli = oneJson(await run('trigger', 'labelled', '--label', 'env=prod', '--label', 'run=nightly', '--wait', '--json'))
    expect(byCli).toMatchObject({ state: 'SUCCESS', labels: { team: 'data', env: 'prod', run: 'nightly' } })
    const r = await api('/workflows/labelled/executions', { method: 'POST', body: JSON.stringify({ labels: { run: 'adhoc' } }) })
    expect(r.status).toBe(201)
    const byApi = (await r.json()) as { id: string; labels: Record<string, string> }
    expect(byApi.labels).toEqual({ team: 'data', env: 'dev', run: 'adhoc' })
    const ids = async (query: string) => ((await (await api(`/executions?${query}`)).json()) as { items: { id: string }[] }).items.map((e) => e.id)
    expect(await ids('label=team=data')).toEqual([byApi.id, byCli.id])
    expect(await ids('label=team=data&label=env=prod')).toEqual([byCli.id])
    expect(await ids('label=env=prod,run=nightly')).toEqual([byCli.id])
    expect(await ids('label=team=ops')).toEqual([])
    const listed = oneJson(await run('execution', 'list', '--label', 'run=adhoc', '--json'))
    expect(listed.items.map((e: { id: string }) => e.id)).toEqual([byApi.id])
    expect((await run('execution', 'list', '--label', 'run=adhoc')).stdout).toContain('run=adhoc')
    expect((await run('execution', 'inspect', byApi.id)).stdout).toMatch(/labels\s+team=data env=dev run=adhoc/)
  })

  it('execution list --since/--until: the creation-time range over the CLI; a bad time is exit 2 naming the flag\'s query path', async () => {
    const all = oneJson(await run('execution', 'list', '--workflow', 'labelled', '--json')).items as { id: string; createdAt: number }[]
    expect(all.length).toBeGreaterThanOrEqual(2)
    const newest = all[0]!
    const since = oneJson(await run('execution', 'list', '--workflow', 'labelled', '--since', new Date(newest.createdAt).toISOString(), '--json'))
    expect(since.items.map((e: { id: string }) => e.id)).toEqual(all.filter((e) => e.createdAt >= newest.createdAt).map((e) => e.id))
    const until = oneJson(await run('execution', 'list', '--workflow', 'labelled', '--until', new Date(newest.createdAt).toISOString(), '--json'))
    expect(until.items.map((e: { id: string }) => e.id)).toEqual(all.filter((e) => e.createdAt < newest.createdAt).map((e) => e.id))
    expect(oneJson(await run('execution', 'list', '--workflow', 'labelled', '--since', '1h', '--json')).total).toBe(all.length)
    const bad = await run('execution', 'list', '--until', '2026-02-30', '--json')
    expect(bad.code).toBe(2)
    expect(JSON.parse(bad.stdout).error).toMatchObject({ code: 'INVALID_INPUT', details: { path: 'query.until' } })
  })

  it('refuses bad labels with stable codes, and creates nothing', async () => {
    const before = ((await (await api('/executions?workflowId=labelled')).json()) as { total: number }).total
    for (const labels of [{ '-x': 'a' }, { ok: 1 }, { ok: 'a,b' }, 'team=data', Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v']))]) {
      const r = await api('/workflows/labelled/executions', { method: 'POST', body: JSON.stringify({ labels }) })
      expect(r.status).toBe(400)
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('INVALID_INPUT')
    }
    const bad = await api('/executions?label=nokey')
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { details: { path: string } } }).error.details.path).toBe('query.label')
    const flag = await run('trigger', 'labelled', '--label', 'x=a,b', '--json')
    expect(flag.code).toBe(2)
    expect(oneJson(flag).error.code).toBe('INVALID_INPUT')
    expect(((await (await api('/executions?workflowId=labelled')).json()) as { total: number }).total).toBe(before)
  })
})

describe('concurrency over the API, the CLI and a webhook', () => {
  it('cancel-new: a second start answers 201 with a CANCELLED execution (CONCURRENCY_LIMIT); a webhook call obeys the same rule', async () => {
    const first = await api('/workflows/single/executions', { method: 'POST', body: '{}' })
    expect(first.status).toBe(201)
    const a = (await first.json()) as { id: string; state: string }
    expect(['PENDING', 'RUNNING']).toContain(a.state)
    const second = await api('/workflows/single/executions', { method: 'POST', body: '{}' })
    expect(second.status).toBe(201)
    expect(await second.json()).toMatchObject({ state: 'CANCELLED', error: { code: 'CONCURRENCY_LIMIT' } })
    const hook = await fetch(`${url}${webhookPath}`, { method: 'POST', body: '{}' })
    expect(hook.status).toBeLessThan(300)
    const { executionId } = (await hook.json()) as { executionId: string }
    // A webhook's execution carries the workflow's labels (its caller sends inputs, not labels).
    expect(oneJson(await run('execution', 'inspect', executionId, '--json'))).toMatchObject({ state: 'CANCELLED', error: { code: 'CONCURRENCY_LIMIT' }, labels: { team: 'ops' } })
    const viaCli = await run('trigger', 'single', '--wait', '--json')
    expect(viaCli.code).toBe(1)
    expect(oneJson(viaCli)).toMatchObject({ state: 'CANCELLED', error: { code: 'CONCURRENCY_LIMIT' } })
    expect(oneJson(await run('execution', 'cancel', a.id, '--json')).state).toBe('CANCELLED')
  })
})

describe('workflow run --label (embedded engine)', () => {
  it('runs locally with the labels merged, shown in its JSON', async () => {
    const r = await cli(['run', labelled, '--label', 'who=me', '--json'], { env: cleanEnv({ WORKFLOW_STORAGE_PATH: join(dir, 'local.db') }) })
    expect(r.code).toBe(0)
    expect(oneJson(r)).toMatchObject({ state: 'SUCCESS', labels: { team: 'data', env: 'dev', who: 'me' } })
  })
})

describe('examples/cleanup.yaml with workflow run', () => {
  const local = () => cleanEnv({ WORKFLOW_STORAGE_PATH: join(dir, 'example.db') })
  it('succeeds with the warning flag when only the allowed task fails, and runs finally', async () => {
    const r = await cli(['run', 'examples/cleanup.yaml', '--json'], { env: local() })
    expect(r.code).toBe(0)
    const d = oneJson(r)
    expect(d).toMatchObject({ state: 'SUCCESS', reason: 'ALLOWED_FAILURE', labels: { team: 'examples' } })
    expect(d.tasks.map((t: { taskId: string; state: string }) => `${t.taskId}:${t.state}`))
      .toEqual(['optional:FAILED', 'main:SUCCESS', 'onFailure/alert:SKIPPED', 'finally/tidy:SUCCESS'])
  })

  it('fails when a main task fails, after onFailure and finally', async () => {
    const r = await cli(['run', 'examples/cleanup.yaml', '--input', 'mainAttempts=2', '--json'], { env: local() })
    expect(r.code).toBe(1)
    const d = oneJson(r)
    expect(d).toMatchObject({ state: 'FAILED', error: { details: { taskId: 'main' } } })
    expect(d.tasks.map((t: { taskId: string; state: string }) => `${t.taskId}:${t.state}`))
      .toEqual(['optional:FAILED', 'main:FAILED', 'onFailure/alert:SUCCESS', 'finally/tidy:SUCCESS'])
  })
})
