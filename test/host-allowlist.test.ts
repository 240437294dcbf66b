/**
 * DNS rebinding: a page whose name an attacker points at 127.0.0.1 must not read what needs no key (the UI's files,
 * /health, /metrics, /openapi/json). The server answers only the Host names it is for (api/request-guard.ts):
 * `server.allowedHosts`, or loopback names on a loopback bind. Real HTTP on 127.0.0.1, raw Host headers.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../api/app.ts'
import { hostName, hostPolicy } from '../api/request-guard.ts'
import { defaultConfig } from '../runtime/config/index.ts'
import { SecretStore } from '../runtime/secrets/index.ts'
import { openSqliteStore, type SqliteStore } from '../runtime/store/sqlite/store.ts'
import { rawRequest } from './helpers/raw-http.ts'

const opened: { app: ReturnType<typeof createApp>; store: SqliteStore; dir: string }[] = []
afterAll(async () => {
  for (const o of opened) {
    await o.app.stop()
    o.store.close()
    rmSync(o.dir, { recursive: true, force: true })
  }
})

/** A real server on 127.0.0.1 whose config says it binds `host` and answers `allowedHosts`. */
function serve(host: string, allowedHosts: string[] = []): number {
  const dir = mkdtempSync(join(tmpdir(), 'ak-hosts-'))
  const store = openSqliteStore(join(dir, 'state.db'))
  const config = defaultConfig(dir)
  config.server.apiKeys = ['hosts-api-key-0123456789']
  config.server.host = host
  config.server.allowedHosts = allowedHosts
  const app = createApp({ engine: undefined, store, secrets: new SecretStore(store.secrets, new Uint8Array(32).fill(5)), config, logInternalError: () => {} })
  app.listen({ hostname: '127.0.0.1', port: 0 })
  opened.push({ app, store, dir })
  return app.server!.port!
}

const get = async (port: number, host: string, path = '/health') => {
  const r = await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
  return { status: r.status, body: r.body }
}

describe('the Host names a server answers to', () => {
  it('reads a Host header name without port or trailing dot, lower-cased', () => {
    expect(['LocalHost:7233', 'example.com.', '[::1]:80', '127.0.0.1'].map(hostName)).toEqual(['localhost', 'example.com', '[::1]', '127.0.0.1'])
    const loop = hostPolicy('127.0.0.1', [])
    expect(['localhost', 'ui.localhost', '127.0.0.1', '127.1.2.3', '[::1]'].every(loop)).toBe(true)
    expect(['evil.example', '127.0.0.1.evil.example', 'localhost.evil.example', '[::2]', '0.0.0.0'].some(loop)).toBe(false)
    expect(hostPolicy('0.0.0.0', [])('anything.example')).toBe(true)
    expect(hostPolicy('0.0.0.0', ['AK.example'])('ak.example')).toBe(true)
    expect(hostPolicy('0.0.0.0', ['ak.example'])('localhost')).toBe(true)
    expect(hostPolicy('0.0.0.0', ['ak.example'])('other.example')).toBe(false)
  })

  it('on a loopback bind, a rebound name gets 400 on every public route and the UI; loopback names are answered', async () => {
    const port = serve('127.0.0.1')
    for (const path of ['/health', '/metrics', '/openapi/json', '/ui/', '/ui/app.js']) {
      const r = await get(port, `rebind.evil.example:${port}`, path)
      expect([path, r.status]).toEqual([path, 400])
      expect(JSON.parse(r.body)).toEqual({ error: { code: 'INVALID_INPUT', message: expect.stringContaining('server.allowedHosts'), details: { path: 'headers.host' } } })
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST.:${port}`, '[::1]']) expect([host, (await get(port, host)).status]).toEqual([host, 200])
  })

  it('allowedHosts names the server: those names and loopback ones, whatever the bind', async () => {
    const port = serve('127.0.0.1', ['ak.example'])
    expect((await get(port, `ak.example:${port}`)).status).toBe(200)
    expect((await get(port, 'AK.Example')).status).toBe(200)
    expect((await get(port, `localhost:${port}`)).status).toBe(200)
    expect((await get(port, `other.example:${port}`)).status).toBe(400)
  })

  it('bound to every interface with no list, any well-formed name is answered (as before)', async () => {
    const port = serve('0.0.0.0')
    expect((await get(port, 'server.lan:7233')).status).toBe(200)
    expect((await get(port, 'a b')).status).toBe(400) // still well-formed only
  })
})
