/** Route-test fixtures: an in-memory store, a secret store, an app and a request helper (`body` is `any`: tests read into it freely). */
import type { Engine } from '../../actors/engine-types.ts'
import { ManualClock } from '../../runtime/clock.ts'
import { defaultConfig, type Config } from '../../runtime/config/index.ts'
import { SecretStore } from '../../runtime/secrets/index.ts'
import { openSqliteStore, type SqliteStore } from '../../runtime/store/sqlite/store.ts'
import { createApp } from '../../api/app.ts'

export const KEY = 'test-key-1'

export interface Fixture {
  store: SqliteStore
  clock: ManualClock
  app: ReturnType<typeof createApp>
  /** Sends a request with the API key (unless `auth: false`); returns status, parsed body and headers. */
  req(method: string, path: string, body?: unknown, opts?: { auth?: boolean; type?: string; headers?: Record<string, string> }): Promise<{
    status: number; body: any; headers: Headers
  }>
}

/** `configure` may change the config before the app is built (e.g. `limits`). */
export function fixture(engine?: Engine, configure: (config: Config) => void = () => {}): Fixture {
  const store = openSqliteStore(':memory:')
  const clock = new ManualClock(1_700_000_000_000)
  const config = defaultConfig('/tmp')
  config.server.apiKeys = [KEY, 'second-key']
  configure(config)
  const secrets = new SecretStore(store.secrets, new Uint8Array(32).fill(7), { clock })
  const app = createApp({ engine, store, secrets, config, clock })
  return {
    store, clock, app,
    async req(method, path, body, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers }
      if (opts.auth !== false) headers.authorization = `Bearer ${KEY}`
      let payload: string | undefined
      if (body !== undefined) {
        payload = typeof body === 'string' ? body : JSON.stringify(body)
        headers['content-type'] = opts.type ?? (typeof body === 'string' ? 'text/yaml' : 'application/json')
      }
      const res = await app.handle(new Request(`http://localhost${path}`, { method, headers, body: payload }))
      const text = await res.text()
      let parsed: unknown = text
      try { parsed = text ? JSON.parse(text) : undefined } catch { /* text body */ }
      return { status: res.status, body: parsed, headers: res.headers }
    },
  }
}

export const HELLO = `id: hello
inputs:
  name: { type: string, default: world }
tasks:
  - id: a
    type: core/log.info
    inputs: { message: "hello {{ inputs.name }}" }
`
