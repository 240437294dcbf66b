/**
 * Review (ops): the OTLP exporter sends no headers of its own, so a collector that needs authentication (Grafana
 * Cloud's OTLP gateway: basic auth; others: a token in the query) is configured with it in `tracing.otlpEndpoint`
 * (`https://user:token@host`, `?api-key=…`). When an export fails, the server's warning named the whole URL: the
 * collector's credentials in the server log. Real server process, a collector address that refuses connections.
 */
import { expect, it } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { KEY, cleanEnv, freePort, root, startServerProcess, tempDir, waitUntil } from '../server-helpers.ts'

it('a failed export never logs the credentials in the endpoint URL', async () => {
  const dir = tempDir('ak-review-ops-otlp-')
  const port = freePort()
  const collectorPort = freePort() // nobody listens: every export fails
  const config = join(dir, 'config.yaml')
  writeFileSync(config, [
    'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
    'storage:', '  path: ./data/autokestra.db', 'plugins:', `  paths: [${join(root, 'plugins')}]`,
    'tracing:', `  otlpEndpoint: "http://tenant-42:otlpPassw0rdXYZ@127.0.0.1:${collectorPort}/otlp?api-key=otlpQueryT0kenXYZ"`, '',
  ].join('\n'))
  const server = await startServerProcess(['bun', join(root, 'cli/main.ts')], config, port, cleanEnv(), dir)
  let stderr = ''
  try {
    const auth = { authorization: `Bearer ${KEY}`, 'content-type': 'text/yaml' }
    const wf = 'id: traced\ntasks:\n  - id: a\n    type: core/log.info\n    inputs: { message: hi }\n'
    expect((await fetch(`${server.url}/api/v1/workflows/traced`, { method: 'PUT', headers: auth, body: wf })).status).toBeLessThan(300)
    const r = await fetch(`${server.url}/api/v1/workflows/traced/executions?wait=30s`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' })
    expect(((await r.json()) as { state: string }).state).toBe('SUCCESS')
    // The export runs after the terminal state; its failure is the one warning. Read stderr while the server runs.
    const reader = (server.proc.stderr as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    await waitUntil('the export failure warning', async () => {
      const { value, done } = await reader.read()
      if (value) stderr += decoder.decode(value)
      return done || stderr.includes('tracing: could not export')
    }, 15_000)
    reader.releaseLock()
  } finally {
    await server.stop()
  }
  expect(stderr).toContain('tracing: could not export')
  expect(stderr).not.toContain('otlpPassw0rdXYZ')
  expect(stderr).not.toContain('otlpQueryT0kenXYZ')
}, 60_000)

it('the export URL keeps the endpoint query after /v1/traces, and the shown one drops credentials and query', async () => {
  const { exportUrl } = await import('../../api/tracing.ts')
  expect(exportUrl('http://u:p@collector:4318/otlp/?api-key=t')).toEqual({
    url: 'http://u:p@collector:4318/otlp/v1/traces?api-key=t', shown: 'http://collector:4318/otlp/v1/traces',
  })
  expect(exportUrl('http://collector:4318')).toEqual({ url: 'http://collector:4318/v1/traces', shown: 'http://collector:4318/v1/traces' })
})
