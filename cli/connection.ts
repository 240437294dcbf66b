/** Where the CLI connects: flags > env (WORKFLOW_SERVER_URL, WORKFLOW_API_KEY) > config file > http://127.0.0.1:7233. */
import { createClient, type Client } from '../api/client.ts'
import type { GlobalOptions } from './output.ts'

/** The config loader (YAML, TypeBox), only when a config file is named; synchronous through Bun's require(). */
const configModule = () => require('../runtime/config/index.ts') as typeof import('../runtime/config/index.ts')

export const DEFAULT_SERVER_URL = 'http://127.0.0.1:7233'

export interface Connection {
  url: string
  apiKey?: string
  client: Client
}

/** A host the server binds to, as a client should dial it (a wildcard becomes loopback). */
export function dialHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}

/** Resolves the URL and key; the config file is read only when `-c` or WORKFLOW_CONFIG names one. */
export function resolveConnection(g: GlobalOptions, env: Record<string, string | undefined> = process.env): { url: string; apiKey?: string } {
  let url = g.server ?? (env.WORKFLOW_SERVER_URL || undefined)
  let apiKey = g.apiKey ?? (env.WORKFLOW_API_KEY || undefined)
  const file = g.config ?? (env.WORKFLOW_CONFIG || undefined)
  if ((url === undefined || apiKey === undefined) && file !== undefined) {
    const { apiKeyText, loadConfig } = configModule()
    const config = loadConfig({ file, env })
    url ??= `http://${dialHost(config.server.host)}:${config.server.port}`
    const first = config.server.apiKeys[0]
    apiKey ??= first === undefined ? undefined : apiKeyText(first)
  }
  url ??= DEFAULT_SERVER_URL
  if (!/^https?:\/\//.test(url)) url = `http://${url}`
  return { url: url.replace(/\/+$/, ''), ...(apiKey !== undefined ? { apiKey } : {}) }
}

/** A ready client for the resolved server. */
export function connect(g: GlobalOptions): Connection {
  const { url, apiKey } = resolveConnection(g)
  return { url, ...(apiKey !== undefined ? { apiKey } : {}), client: createClient(url, apiKey) }
}
