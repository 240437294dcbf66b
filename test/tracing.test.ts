/**
 * Issue 18 item 5 (tracing): with `tracing.otlpEndpoint` set, the real server exports one trace per execution over
 * OTLP/HTTP (JSON) to a collector — here a Bun.serve standing in for one: a root span for the execution and a child
 * span per task attempt, with a retried attempt as its own FAILED span; a collector that does not answer costs one warning, never an execution.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { KEY, cleanEnv, freePort, root, startServerProcess, tempDir, waitUntil, type ServerProcess } from './server-helpers.ts'

interface Span { traceId: string; spanId: string; parentSpanId?: string; name: string; startTimeUnixNano: string; endTimeUnixNano: string; status: { code: number }; attributes: { key: string; value: { stringValue?: string; intValue?: string } }[] }
interface Export { resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: Span[] }[] }[] }

const received: { path: string; body: Export }[] = []
const collector = Bun.serve({
  hostname: '127.0.0.1', port: 0,
  async fetch(req) {
    received.push({ path: new URL(req.url).pathname, body: (await req.json()) as Export })
    return new Response('{}', { headers: { 'content-type': 'application/json' } })
  },
})
const dir = tempDir('ak-tracing-')
let server: ServerProcess | undefined
let downServer: ServerProcess | undefined
afterAll(async () => {
  await server?.stop()
  await downServer?.stop()
  collector.stop(true)
})

function writeConfig(name: string, port: number, endpoint: string): string {
  const config = join(dir, name)
  writeFileSync(config, [
    'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
    'storage:', `  path: ./${name}-data/autokestra.db`, 'plugins:', `  paths: [${join(root, 'plugins')}]`,
    'tracing:', `  otlpEndpoint: ${endpoint}`, '  serviceName: autokestra-test', '',
  ].join('\n'))
  return config
}

const attr = (s: Span, key: string) => s.attributes.find((a) => a.key === key)?.value

describe('tracing over OTLP/HTTP', () => {
  it('exports one trace per execution: a root span and a span per task attempt, retries included', async () => {
    const port = freePort()
    const config = writeConfig('config.yaml', port, `http://127.0.0.1:${collector.port}`)
    server = await startServerProcess(['bun', join(root, 'cli/main.ts')], config, port, cleanEnv(), dir)
    const auth = { authorization: `Bearer ${KEY}` }
    // `flaky` times out on each attempt, and is retried once: two attempts, two FAILED spans.
    const wf = [
      'id: traced', 'tasks:',
      '  - id: hello', '    type: core/log.info', '    inputs: { message: hi }',
      '  - id: flaky', '    needs: [hello]', '    type: core/sleep.wait', '    timeout: 200ms', '    retry: { max: 1, backoff: { delay: 10ms } }',
      '    inputs: { duration: 10s }', '',
    ].join('\n')
    expect((await fetch(`${server.url}/api/v1/workflows/traced`, { method: 'PUT', headers: { ...auth, 'content-type': 'text/yaml' }, body: wf })).status).toBeLessThan(300)
    const r = await fetch(`${server.url}/api/v1/workflows/traced/executions?wait=30s`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' })
    const execution = (await r.json()) as { id: string; state: string }
    expect(execution.state).toBe('FAILED')
    await waitUntil('the collector to receive the trace', () => received.length > 0, 15_000)
    expect(received).toHaveLength(1)
    const { path, body } = received[0]!
    expect(path).toBe('/v1/traces')
    const resource = body.resourceSpans[0]!
    expect(resource.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue).toBe('autokestra-test')
    const spans = resource.scopeSpans[0]!.spans
    const rootSpan = spans.find((s) => s.parentSpanId === undefined)!
    expect(rootSpan.name).toBe('execution traced')
    expect(attr(rootSpan, 'autokestra.execution.id')?.stringValue).toBe(execution.id)
    expect(rootSpan.status.code).toBe(2)
    const tasks = spans.filter((s) => s.parentSpanId === rootSpan.spanId)
    expect(tasks.map((s) => `${s.name}#${attr(s, 'autokestra.task.attempt')?.intValue}:${attr(s, 'autokestra.task.outcome')?.stringValue}`))
      .toEqual(['task hello#1:SUCCESS', 'task flaky#1:FAILED', 'task flaky#2:FAILED'])
    for (const s of spans) {
      expect(s.traceId).toBe(rootSpan.traceId)
      expect(s.traceId).toMatch(/^[0-9a-f]{32}$/)
      expect(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano)).toBe(true)
    }
  }, 60_000)

  it('a collector that does not answer costs one warning per burst, never the execution', async () => {
    const port = freePort()
    downServer = await startServerProcess(['bun', join(root, 'cli/main.ts')], writeConfig('down.yaml', port, `http://127.0.0.1:${freePort()}`), port, cleanEnv(), dir)
    const auth = { authorization: `Bearer ${KEY}` }
    const wf = 'id: untraced\ntasks:\n  - id: a\n    type: core/log.info\n    inputs: { message: hi }\n'
    expect((await fetch(`${downServer.url}/api/v1/workflows/untraced`, { method: 'PUT', headers: { ...auth, 'content-type': 'text/yaml' }, body: wf })).status).toBeLessThan(300)
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${downServer.url}/api/v1/workflows/untraced/executions?wait=30s`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' })
      expect(((await r.json()) as { state: string }).state).toBe('SUCCESS')
    }
    expect(await downServer.stop()).toBe(0)
    const stderr = await new Response(downServer.proc.stderr as ReadableStream).text()
    expect(stderr.split('\n').filter((l) => l.includes('tracing: could not export'))).toHaveLength(1)
  }, 60_000)
})
