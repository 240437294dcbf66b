/** Webhook triggers through the real Elysia app in-process, on the real engine: auth by path key, key shown once and rotated, validation, 202, rate limit; next fires in `get`. */

import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import { readFileSync } from 'node:fs'
import { createEngine } from '../actors/engine.ts'
import type { Engine } from '../actors/engine-types.ts'
import { createApp } from '../api/app.ts'
import { webhookKeyMatches } from '../api/services/webhook-keys.ts'
import { bodyToInputs } from '../api/services/webhooks.ts'
import { ManualClock } from '../runtime/clock.ts'
import { defaultConfig } from '../runtime/config/index.ts'
import { SecretStore } from '../runtime/secrets/index.ts'
import type { SqliteStore } from '../runtime/store/sqlite/store.ts'
import { hashWebhookKey } from '../runtime/store/webhook-keys.ts'
import { tempDb, workflowYaml } from './triggers-fixtures.ts'

const API_KEY = 'test-api-key'
const T0 = Date.parse('2025-01-01T00:00:00Z')

let db: ReturnType<typeof tempDb>
let store: SqliteStore
let clock: ManualClock
let app: ReturnType<typeof createApp>
let refreshed = 0

let engine: Engine
beforeEach(async () => {
  db = tempDb()
  store = db.open()
  clock = new ManualClock(T0) // drives the API (rate limiter, fire times); the engine keeps real time
  const config = defaultConfig()
  config.server.apiKeys = [API_KEY]
  config.storage.path = db.path
  refreshed = 0
  engine = await createEngine({ config, store })
  app = createApp({
    engine, store, secrets: new SecretStore(store.secrets, new Uint8Array(32).fill(7)), config, clock,
    scheduler: { refresh: () => void refreshed++ },
  })
})
afterEach(async () => {
  await engine.shutdown({ graceMs: 0 })
  await store.close()
  db.cleanup()
})

const INPUTS = 'inputs:\n  - { name: who, type: string, required: true }\n  - { name: n, type: number, default: 1 }\n'
const authed = { authorization: `Bearer ${API_KEY}` }

async function applyViaApi(yaml: string): Promise<Response> {
  return app.handle(new Request('http://localhost/api/v1/workflows/' + /id: (\S+)/.exec(yaml)![1], {
    method: 'PUT', headers: { ...authed, 'content-type': 'text/yaml' }, body: yaml,
  }))
}
interface Applied { status: number; body: { workflow: { webhook?: unknown }; webhook?: { path: string; key: string; keyHint: string } } }
async function apply(yaml: string): Promise<Applied> {
  const res = await applyViaApi(yaml)
  return { status: res.status, body: await res.json() as Applied['body'] }
}
async function getWorkflow(id: string): Promise<{ webhook?: { pathTemplate: string; keyHint: string; keyCreatedAt: number } }> {
  return await (await app.handle(new Request(`http://localhost/api/v1/workflows/${id}`, { headers: authed }))).json() as never
}
async function rotate(id: string): Promise<Response> {
  return app.handle(new Request(`http://localhost/api/v1/workflows/${id}/webhook/rotate`, { method: 'POST', headers: authed }))
}
const post = (url: string, body?: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  app.handle(new Request(url, { method: 'POST', headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) }))

describe('webhook trigger', () => {
  let minted: NonNullable<Applied['body']['webhook']>
  const hookUrl = async (_id: string) => `http://localhost${minted.path}`
  beforeEach(async () => {
    const applied = await apply(workflowYaml('hook', ['{type: webhook}'], INPUTS))
    expect(applied.status).toBe(201)
    minted = applied.body.webhook!
  })

  it('shows the key once, in the apply that minted it; get shows its hint only; re-applies keep it', async () => {
    expect(minted.path).toMatch(/^\/api\/v1\/webhooks\/hook\/[A-Za-z0-9_-]{32}$/)
    expect(minted.path.endsWith(`/${minted.key}`)).toBe(true)
    const shown = await getWorkflow('hook')
    expect(shown.webhook).toEqual({ pathTemplate: '/api/v1/webhooks/hook/{key}', keyHint: minted.key.slice(0, 4), keyCreatedAt: T0 })
    expect(JSON.stringify(shown)).not.toContain(minted.key)
    const again = await apply(workflowYaml('hook', ['{type: webhook}'], INPUTS + 'description: edited\n'))
    expect(again.body.webhook).toBeUndefined()
    expect(JSON.stringify(again.body)).not.toContain(minted.key)
    expect((await post(await hookUrl('hook'), { who: 'still works' })).status).toBe(202)
  })

  it('stores a SHA-256 digest, never the key: not in the row, not in the database file or its WAL', async () => {
    expect((await store.workflows.get('hook'))!.webhookKey!.hash).toBe(hashWebhookKey(minted.key))
    const files = [db.path, `${db.path}-wal`].map((f) => { try { return readFileSync(f) } catch { return Buffer.alloc(0) } })
    expect(files.some((b) => b.length > 0)).toBe(true)
    for (const bytes of files) expect(bytes.includes(minted.key)).toBe(false)
  })

  it('rotates the key: the new one is shown once and works, the old one stops working at once; audited without a key', async () => {
    const old = await hookUrl('hook')
    clock.set(T0 + 60_000)
    const res = await rotate('hook')
    expect(res.status).toBe(200)
    const fresh = await res.json() as { workflowId: string; key: string; path: string; keyHint: string; keyCreatedAt: number }
    expect(fresh).toMatchObject({ workflowId: 'hook', keyHint: fresh.key.slice(0, 4), keyCreatedAt: T0 + 60_000 })
    expect(fresh.key).not.toBe(minted.key)
    expect((await post(old, { who: 'x' })).status).toBe(404)
    expect((await post(`http://localhost${fresh.path}`, { who: 'y' })).status).toBe(202)
    expect((await getWorkflow('hook')).webhook).toMatchObject({ keyHint: fresh.key.slice(0, 4), keyCreatedAt: T0 + 60_000 })
    const audit = await store.audit.list({ type: 'WEBHOOK_KEY_ROTATED' })
    expect(audit).toHaveLength(1)
    expect(audit[0]).toMatchObject({ workflowId: 'hook', data: { keyHint: fresh.keyHint, previousKeyHint: minted.keyHint } })
    expect(JSON.stringify(audit)).not.toContain(fresh.key)
  })

  it('refuses to rotate without an API key (401), for an unknown workflow (404) or one without a webhook trigger (409)', async () => {
    const keyless = await app.handle(new Request('http://localhost/api/v1/workflows/hook/webhook/rotate', { method: 'POST' }))
    expect(keyless.status).toBe(401)
    expect((await rotate('nope')).status).toBe(404)
    await applyViaApi(workflowYaml('cronly', ['{type: cron, cron: "@daily"}']))
    const conflict = await rotate('cronly')
    expect(conflict.status).toBe(409)
    expect(((await conflict.json()) as { error: { message: string } }).error.message).toContain('type: webhook')
    expect(await store.audit.list({ type: 'WEBHOOK_KEY_ROTATED' })).toHaveLength(0)
  })

  it('starts an execution from the JSON body without an API key: 202 with the id, trigger webhook', async () => {
    const res = await post(await hookUrl('hook'), { who: 'octocat' })
    expect(res.status).toBe(202)
    const { executionId } = await res.json() as { executionId: string }
    const ex = (await store.executions.get(executionId))!
    expect(ex.inputs).toEqual({ who: 'octocat', n: 1 })
    expect(ex.trigger.type).toBe('webhook')
  })

  it('refuses a body over 1 MiB with 400, whether announced by Content-Length or streamed without it', async () => {
    const url = await hookUrl('hook')
    const big = JSON.stringify({ who: 'x'.repeat(1024 * 1024) })
    const announced = await post(url, big)
    expect(announced.status).toBe(400)
    expect(((await announced.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('exceeds') })
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024))
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({ pull(c) { if (sent++ < 40) c.enqueue(chunk); else c.close() } })
    const streamed = await app.handle(new Request(url, { method: 'POST', body: stream, headers: { 'content-type': 'application/json' } }))
    expect(streamed.status).toBe(400)
    expect(sent).toBeLessThan(40) // reading stopped at the cap, not at the end of the upload
    expect((await store.executions.list()).total).toBe(0)
  })

  it('answers 404 alike for a wrong key and an unknown workflow, without revealing which', async () => {
    const good = await hookUrl('hook')
    const wrongKey = await post(good.replace(/[^/]+$/, 'not-the-key'), { who: 'x' })
    const unknown = await post(good.replace('/hook/', '/nope/'), { who: 'x' })
    expect(wrongKey.status).toBe(404)
    expect(unknown.status).toBe(404)
    expect(await wrongKey.json()).toEqual(await unknown.json())
    expect((await store.executions.list({})).total).toBe(0)
  })

  it('answers 404 for a workflow without a webhook trigger', async () => {
    await applyViaApi(workflowYaml('cronly', ['{type: cron, cron: "@daily"}']))
    const res = await post((await hookUrl('hook')).replace('/hook/', '/cronly/'), {})
    expect(res.status).toBe(404)
  })

  it('validates the body against the declared inputs: 400 INVALID_INPUT naming the input', async () => {
    const url = await hookUrl('hook')
    const missing = await post(url, {})
    expect(missing.status).toBe(400)
    expect(await missing.json()).toMatchObject({ error: { code: 'INVALID_INPUT', details: { path: 'inputs.who' } } })
    const wrongType = await post(url, { who: 'a', n: 'many' })
    expect(await wrongType.json()).toMatchObject({ error: { code: 'INVALID_INPUT', details: { path: 'inputs.n' } } })
    const notObject = await post(url, '[1,2]')
    expect(notObject.status).toBe(400)
    const notJson = await post(url, '{oops', { 'content-type': 'text/plain' })
    expect(await notJson.json()).toMatchObject({ error: { code: 'INVALID_INPUT', message: 'webhook body is not valid JSON' } })
    expect((await store.executions.list({})).total).toBe(0)
  })

  it('answers 409 WORKFLOW_DISABLED for a disabled workflow (with the right key)', async () => {
    const url = await hookUrl('hook')
    await store.workflows.setEnabled('hook', false, clock.now())
    const res = await post(url, { who: 'a' })
    expect(res.status).toBe(409)
    expect(await res.json()).toMatchObject({ error: { code: 'WORKFLOW_DISABLED' } })
  })

  it('rate-limits per workflow: 429 RATE_LIMITED with Retry-After once the burst is spent, then refills', async () => {
    const url = await hookUrl('hook')
    for (let i = 0; i < 20; i++) expect((await post(url, { who: `${i}` })).status).toBe(202)
    const limited = await post(url, { who: 'one too many' })
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('1')
    expect(await limited.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } })
    await clock.advance(100) // 10/s: one token back
    expect((await post(url, { who: 'later' })).status).toBe(202)
    expect((await post(url, { who: 'again' })).status).toBe(429)
  })

  it('does not open other /api/v1 routes to callers without an API key', async () => {
    expect((await app.handle(new Request('http://localhost/api/v1/workflows/hook'))).status).toBe(401)
    // GET: only POST is routed there (405 with Allow, the same for any key: it tells nothing about one).
    const get = await app.handle(new Request('http://localhost/api/v1/webhooks/hook/k'))
    expect({ status: get.status, allow: get.headers.get('allow') }).toEqual({ status: 405, allow: 'POST' })
    expect((await app.handle(new Request('http://localhost/api/v1/webhooks/%2E%2E/workflows/hook'))).status).toBe(401)
  })
})

describe('workflow detail and scheduler refresh', () => {
  it('shows the next 5 fire times of each cron trigger', async () => {
    await applyViaApi(workflowYaml('nightly', ['{type: cron, cron: "0 2 * * *", timezone: Europe/Berlin}']))
    const res = await app.handle(new Request('http://localhost/api/v1/workflows/nightly', { headers: authed }))
    const body = await res.json() as { triggers: { nextFireAt: number[] }[] }
    expect(body.triggers[0]!.nextFireAt).toEqual([1, 2, 3, 4, 5].map((d) => Date.parse(`2025-01-0${d}T01:00:00Z`)))
  })

  it('tells the scheduler to re-plan after apply, enable/disable and delete', async () => {
    await applyViaApi(workflowYaml('w', ['{type: cron, cron: "@hourly"}']))
    await app.handle(new Request('http://localhost/api/v1/workflows/w', { method: 'PATCH', headers: { ...authed, 'content-type': 'application/json' }, body: '{"enabled":false}' }))
    await app.handle(new Request('http://localhost/api/v1/workflows/w', { method: 'DELETE', headers: authed }))
    await app.handle(new Request('http://localhost/api/v1/workflows/w', { headers: authed }))
    expect(refreshed).toBe(3)
  })
})

describe('webhook helpers', () => {
  it('compares keys in constant time on digests, whatever the lengths', () => {
    const abc = hashWebhookKey('abc')
    expect(webhookKeyMatches(abc, 'abc')).toBe(true)
    expect(webhookKeyMatches(abc, 'abd')).toBe(false)
    expect(webhookKeyMatches(abc, 'a-much-longer-guess')).toBe(false)
    expect(webhookKeyMatches(undefined, '')).toBe(false)
    expect(webhookKeyMatches('not-hex', 'abc')).toBe(false)
  })

  it('reads an empty body as no inputs', () => {
    expect(bodyToInputs('')).toEqual({})
    expect(bodyToInputs(' {"a":1} ')).toEqual({ a: 1 })
  })
})
