/**
 * Hostile review (review-host): two holes around names.
 * 1. A server bound to the IPv6 loopback `::1` (how Bun and the config spell it, unbracketed) must refuse a rebound
 *    Host name like one bound to 127.0.0.1; hostName("::1") read ":" and the policy answered any name.
 * 2. `?label=__proto__=x` must be INVALID_INPUT like any bad label key; parseLabelPairs assigned it into a plain
 *    object, where `__proto__` is the prototype setter, so the pair vanished and the filter was silently ignored.
 * Real HTTP on 127.0.0.1, raw requests, real SQLite.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../../api/app.ts'
import { defaultConfig } from '../../runtime/config/index.ts'
import { SecretStore } from '../../runtime/secrets/index.ts'
import { openSqliteStore, type SqliteStore } from '../../runtime/store/sqlite/store.ts'
import { rawRequest } from '../helpers/raw-http.ts'

const KEY = 'review-host-api-key-0123456789'
const opened: { app: ReturnType<typeof createApp>; store: SqliteStore; dir: string }[] = []
afterAll(async () => {
  for (const o of opened) {
    await o.app.stop()
    o.store.close()
    rmSync(o.dir, { recursive: true, force: true })
  }
})

function serve(host: string): number {
  const dir = mkdtempSync(join(tmpdir(), 'ak-review-host-'))
  const store = openSqliteStore(join(dir, 'state.db'))
  const config = defaultConfig(dir)
  config.server.apiKeys = [KEY]
  config.server.host = host
  const app = createApp({ engine: undefined, store, secrets: new SecretStore(store.secrets, new Uint8Array(32).fill(5)), config, logInternalError: () => {} })
  app.listen({ hostname: '127.0.0.1', port: 0 })
  opened.push({ app, store, dir })
  return app.server!.port!
}

const get = async (port: number, host: string, path: string) =>
  rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${KEY}\r\nConnection: close\r\n\r\n`)

describe('review-host: names', () => {
  it('a server bound to ::1 refuses a rebound Host name, and answers [::1] and localhost', async () => {
    const port = serve('::1')
    for (const path of ['/health', '/openapi/json', '/ui/']) {
      expect([path, (await get(port, `rebind.evil.example:${port}`, path)).status]).toEqual([path, 400])
    }
    expect((await get(port, `[::1]:${port}`, '/health')).status).toBe(200)
    expect((await get(port, `localhost:${port}`, '/health')).status).toBe(200)
  })

  it('a __proto__ label filter is INVALID_INPUT, not silently dropped', async () => {
    const port = serve('127.0.0.1')
    for (const q of ['label=__proto__=x', 'label=__proto__=x,team=a']) {
      const r = await get(port, `127.0.0.1:${port}`, `/api/v1/executions?${q}`)
      expect([q, r.status]).toEqual([q, 400])
      expect(JSON.parse(r.body).error.code).toBe('INVALID_INPUT')
    }
    expect((await get(port, `127.0.0.1:${port}`, '/api/v1/executions?label=constructor=x')).status).toBe(200)
  })
})

describe('review-host: allowedHosts and the same machine', () => {
  it("with server.allowedHosts set (as docs/security.md advises for 0.0.0.0), the image's HEALTHCHECK still passes", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ak-review-host-'))
    const store = openSqliteStore(join(dir, 'state.db'))
    const config = defaultConfig(dir)
    config.server.apiKeys = [KEY]
    config.server.host = '0.0.0.0'
    config.server.allowedHosts = ['ak.example.com']
    const app = createApp({ engine: undefined, store, secrets: new SecretStore(store.secrets, new Uint8Array(32).fill(5)), config, logInternalError: () => {} })
    app.listen({ hostname: '127.0.0.1', port: 0 })
    opened.push({ app, store, dir })
    const port = app.server!.port!
    const check = Bun.spawn([process.execPath, '--config=/dev/null', '--no-env-file', '--no-install', join(import.meta.dir, '../../deploy/healthcheck.ts')], {
      env: { PATH: process.env.PATH ?? '', WORKFLOW_SERVER_PORT: String(port) }, stdout: 'ignore', stderr: 'ignore',
    })
    expect(await check.exited).toBe(0)
    expect((await get(port, 'rebind.evil.example', '/health')).status).toBe(400)
  })
})
