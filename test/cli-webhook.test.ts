/**
 * Webhook keys through the real CLI and server (child processes, real SQLite file): `apply` shows the URL once,
 * `get` shows only the key's hint and how to rotate, `webhook rotate` mints a new key (shown once) and revokes
 * the old one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { KEY, cleanEnv, cli, freePort, oneJson, startServerProcess, tempDir, writeConfig, type ServerProcess } from './server-helpers.ts'

const dir = tempDir('autokestra-cli-webhook-')
const port = freePort()
const config = writeConfig(dir, port)
const url = `http://127.0.0.1:${port}`
const env = cleanEnv({ WORKFLOW_SERVER_URL: url, WORKFLOW_API_KEY: KEY })
const run = (...args: string[]) => cli(args, { env })
const hook = join(dir, 'hook.yaml')
writeFileSync(hook, 'id: hook\ntriggers:\n  - type: webhook\ntasks:\n  - id: a\n    type: core/log.info\n    inputs: { message: hi }\n')
let server: ServerProcess

beforeAll(async () => { server = await startServerProcess(['bun', 'cli/main.ts'], config, port) })
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const post = (path: string) => fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })

describe('webhook keys in the CLI', () => {
  let firstPath = ''

  it('apply prints the webhook URL once and says it cannot be shown again; a re-apply does not', async () => {
    const r = await run('apply', hook)
    expect(r.code).toBe(0)
    const m = /webhook: POST (http:\/\/\S+\/api\/v1\/webhooks\/hook\/(\S+))/.exec(r.stdout)
    expect(m).not.toBeNull()
    firstPath = new URL(m![1]!).pathname
    expect(r.stdout).toContain('cannot be shown again')
    expect(r.stdout).toContain('workflow webhook rotate hook')
    expect((await post(firstPath)).status).toBe(202)
    const again = await run('apply', hook)
    expect(again.stdout).not.toContain('/api/v1/webhooks/hook/')
  })

  it('get shows where to POST, the key hint and how to rotate, never the key', async () => {
    const key = firstPath.split('/').pop()!
    const r = await run('get', 'hook')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`POST ${url}/api/v1/webhooks/hook/{key} (key ${key.slice(0, 4)}…`)
    expect(r.stdout).toContain('workflow webhook rotate hook')
    expect(r.stdout).not.toContain(key)
    const json = oneJson(await run('get', 'hook', '--json'))
    expect(json.webhook).toMatchObject({ pathTemplate: '/api/v1/webhooks/hook/{key}', keyHint: key.slice(0, 4) })
    expect(JSON.stringify(json)).not.toContain(key)
  })

  it('webhook rotate prints the new URL once; the old URL stops working, the new one works', async () => {
    const human = await run('webhook', 'rotate', 'hook')
    expect([human.code, human.stderr]).toEqual([0, ''])
    expect(human.stdout).toContain('the old URL stops working now')
    const path = new URL(/POST (\S+)/.exec(human.stdout)![1]!).pathname
    expect((await post(firstPath)).status).toBe(404)
    expect((await post(path)).status).toBe(202)
    const json = oneJson(await run('webhook', 'rotate', 'hook', '--json'))
    const { path: newPath, key } = json as { path: string; key: string }
    expect(newPath).toBe(`/api/v1/webhooks/hook/${key}`)
    expect(json).toMatchObject({ workflowId: 'hook', keyHint: key.slice(0, 4) })
    expect((await post(path)).status).toBe(404)
    expect((await post(newPath)).status).toBe(202)
  })

  it('webhook rotate of an unknown workflow exits 4; an unknown action exits 2', async () => {
    expect((await run('webhook', 'rotate', 'nope', '--json')).code).toBe(4)
    const bad = await run('webhook', 'frob', 'hook', '--json')
    expect(bad.code).toBe(2)
    expect(oneJson(bad).error.code).toBe('INVALID_INPUT')
  })
})
