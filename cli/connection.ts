/** Where the CLI connects: flags > env (WORKFLOW_SERVER_URL, WORKFLOW_API_KEY) > config file > http://127.0.0.1:7233. */
import { createClient, type Client } from '../api/client.ts'
import { usageError, type GlobalOptions } from './output.ts'

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
  url = url === undefined ? DEFAULT_SERVER_URL : checkedServerUrl(url, g.server !== undefined ? '--server' : 'WORKFLOW_SERVER_URL')
  return { url: url.replace(/\/+$/, ''), ...(apiKey !== undefined ? { apiKey } : {}) }
}

/**
 * A server URL as given (`http(s)://host[:port][/prefix]`, or `host:port` meaning http), else INVALID_INPUT (exit 2)
 * naming where it came from: a typo is the user's to fix, not a server to report unreachable (exit 5).
 */
export function checkedServerUrl(given: string, from: string): string {
  const bad = (why: string) => usageError(`${from} "${given}" ${why} (expected e.g. http://127.0.0.1:7233 or 127.0.0.1:7233)`, { path: from })
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(given)?.[1]
  if (scheme !== undefined && !/^https?$/i.test(scheme)) throw bad(`has scheme ${scheme}: only http and https are served`)
  // Without a scheme only host:port is taken as a URL: a bare word is more likely a mistake than a host name.
  if (scheme === undefined && !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d+(\/.*)?$/.test(given)) throw bad('is not a URL')
  const text = scheme === undefined ? `http://${given}` : given
  if (!URL.canParse(text)) throw bad('is not a URL')
  const u = new URL(text)
  if (u.hostname === '') throw bad('names no host')
  if (u.username !== '' || u.password !== '') throw bad('carries credentials: pass the key with --api-key or WORKFLOW_API_KEY')
  if (u.search !== '' || u.hash !== '') throw bad('has a query or fragment')
  return text
}

/** A ready client for the resolved server. */
export function connect(g: GlobalOptions): Connection {
  const { url, apiKey } = resolveConnection(g)
  return { url, ...(apiKey !== undefined ? { apiKey } : {}), client: createClient(url, apiKey) }
}
