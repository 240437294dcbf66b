/**
 * Review (ops): a request no route fits is logged with its path, and only a path that starts exactly
 * `/api/v1/webhooks/<wf>/` has its key redacted. A sender that doubles a slash (a base URL ending in `/`, the most
 * common webhook misconfiguration), a proxy that does not strip its prefix, an encoded slash or letter: the
 * request is a 404 or 401, and the webhook's real key went to the server log (shipped, retained, read by people
 * who may not hold the key). Against the real server process, in both log formats.
 */
import { beforeAll, describe, expect, it } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { KEY, cleanEnv, freePort, root, startServerProcess, tempDir, waitUntil, type ServerProcess } from '../server-helpers.ts'
import { rawRequest } from '../helpers/raw-http.ts'

const SECRET = 'whk0ReviewOpsS3cretKey0123456789'
/** Request targets a misconfigured sender or proxy sends a real webhook key in, which no route takes. */
const TARGETS = [
  `//api/v1/webhooks/wf/${SECRET}-a`,
  `/autokestra/api/v1/webhooks/wf/${SECRET}-b`,
  `/api/v1/webhooks/wf%2F${SECRET}-c`,
  `/api/v1/%77ebhooks/wf/${SECRET}-d`,
  `/api/v1//webhooks/wf/${SECRET}-e`,
  `/API/V1/WEBHOOKS/wf/${SECRET}-f`,
]

async function logOf(format: 'pretty' | 'json'): Promise<string> {
  const dir = tempDir('ak-review-ops-log-')
  const port = freePort()
  const config = join(dir, 'config.yaml')
  writeFileSync(config, [
    'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
    'storage:', '  path: ./data/autokestra.db', 'plugins:', `  paths: [${join(root, 'plugins')}]`,
    'logging:', `  format: ${format}`, '',
  ].join('\n'))
  const server: ServerProcess = await startServerProcess(['bun', join(root, 'cli/main.ts')], config, port, cleanEnv(), dir)
  // Read as it comes: a request's log line is written after its answer, so the test waits for the lines it sent
  // before it stops the server (a SIGTERM may otherwise come first).
  let log = ''
  const decoder = new TextDecoder()
  const reading = (async () => {
    for await (const chunk of server.proc.stderr as ReadableStream<Uint8Array>) log += decoder.decode(chunk, { stream: true })
  })()
  try {
    for (const t of TARGETS) {
      const res = await rawRequest(port, `POST ${t} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-length: 0\r\n\r\n`, { untilResponse: true })
      expect([401, 404]).toContain(res.status)
    }
    await waitUntil('a request log line per request', () => log.split('\n').filter((l) => / 40[14] /.test(l) || /"status":40[14]/.test(l)).length >= TARGETS.length)
  } finally {
    await server.stop()
    await reading
  }
  return log
}

let pretty = ''
let json = ''
beforeAll(async () => {
  pretty = await logOf('pretty')
  json = await logOf('json')
}, 60_000)

describe('a webhook key in a path no route fits never reaches the request log', () => {
  it('pretty', () => {
    // The requests were logged (so the test can fail), without the key.
    expect(pretty.split('\n').filter((l) => l.includes('webhooks') || l.includes('%77ebhooks') || l.includes('WEBHOOKS')).length).toBeGreaterThanOrEqual(TARGETS.length)
    expect(pretty).not.toContain(SECRET)
  })
  it('json', () => {
    const lines = json.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { route?: string; path?: string })
    expect(lines.filter((l) => l.route !== undefined).length).toBeGreaterThanOrEqual(TARGETS.length)
    expect(json).not.toContain(SECRET)
  })
})
