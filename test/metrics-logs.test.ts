/**
 * Issue 18 item 5 against the real server process: /metrics parses with a Prometheus text parser (and passes
 * `promtool check metrics` where promtool is installed; CI installs Debian's prometheus), the task-duration
 * histogram has samples after a run, executions and HTTP requests are counted; `logging.format: json` writes
 * one JSON object per line, with a request line that never shows a key, a webhook key or a query string.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format'
import { KEY, cleanEnv, freePort, root, startServerProcess, tempDir, waitUntil, type ServerProcess } from './server-helpers.ts'

const dir = tempDir('ak-metrics-')
const port = freePort()
let server: ServerProcess
let stderr = ''
let families: PromFamily[] = []
let text = ''
const auth = { authorization: `Bearer ${KEY}` }

beforeAll(async () => {
  const config = join(dir, 'config.yaml')
  writeFileSync(config, [
    'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
    'storage:', '  path: ./data/autokestra.db', 'plugins:', `  paths: [${join(root, 'plugins')}]`,
    'logging:', '  format: json', '',
  ].join('\n'))
  server = await startServerProcess(['bun', join(root, 'cli/main.ts')], config, port, cleanEnv(), dir)
  const wf = 'id: metered\ntasks:\n  - id: a\n    type: core/log.info\n    inputs: { message: hi }\n  - id: b\n    type: core/log.info\n    needs: [a]\n    inputs: { message: there }\n'
  expect((await fetch(`${server.url}/api/v1/workflows/metered`, { method: 'PUT', headers: { ...auth, 'content-type': 'text/yaml' }, body: wf })).status).toBeLessThan(300)
  const started = await fetch(`${server.url}/api/v1/workflows/metered/executions?wait=30s`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' })
  expect(((await started.json()) as { state: string }).state).toBe('SUCCESS')
  // A refusal before routing, a 404 route, and a query string that must not reach the log.
  expect((await fetch(`${server.url}/api/v1/workflows`)).status).toBe(401)
  expect((await fetch(`${server.url}/api/v1/executions/nope?token=hunter2`, { headers: auth })).status).toBe(404)
  expect((await fetch(`${server.url}/api/v1/webhooks/metered/not-the-key-s3cr3t`, { method: 'POST' })).status).toBeGreaterThanOrEqual(400)
  text = await (await fetch(`${server.url}/metrics`)).text()
  families = parsePrometheusTextFormat(text)
  server.proc.kill('SIGTERM')
  await server.proc.exited
  stderr = await new Response(server.proc.stderr as ReadableStream).text()
}, 60_000)

afterAll(async () => {
  server?.proc.kill('SIGKILL')
})

const family = (name: string) => {
  const f = families.find((x) => x.name === name)
  if (!f) throw new Error(`no metric family ${name} in:\n${text}`)
  return f
}
const sample = (name: string, labels: Record<string, string>) =>
  family(name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))

/**
 * A histogram series' `_count`, `_sum` and `le` buckets, read off the sample lines: the parser folds a labelled
 * histogram's series into one and drops their labels, so it checks the syntax and the family, and this the series.
 */
function histogram(name: string, labels: Record<string, string>): { count: number; sum: number; buckets: Record<string, number> } | undefined {
  expect(family(name).type).toBe('HISTOGRAM')
  const has = (line: string) => Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))
  const lines = text.split('\n').filter((l) => l.startsWith(`${name}_`) && has(l))
  const value = (suffix: string) => lines.filter((l) => l.startsWith(`${name}_${suffix}`)).map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)))
  const [count] = value('count')
  const [sum] = value('sum')
  if (count === undefined || sum === undefined) return undefined
  const buckets = Object.fromEntries(lines.filter((l) => l.startsWith(`${name}_bucket`))
    .map((l) => [/le="([^"]+)"/.exec(l)?.[1] ?? '', Number(l.slice(l.lastIndexOf(' ') + 1))]))
  return { count, sum, buckets }
}

describe('/metrics', () => {
  it('parses as Prometheus text: every family typed, counters end in _total, names snake_case', () => {
    expect(families.length).toBeGreaterThan(15)
    for (const f of families) {
      expect(`${f.name}: ${f.type}`).not.toContain('UNTYPED')
      expect(f.name).toMatch(/^[a-z_][a-z0-9_]*$/)
      if (f.type === 'COUNTER') expect(f.name).toEndWith('_total')
      expect(f.help.length).toBeGreaterThan(0)
    }
  })

  it('has task-duration samples after a run, by outcome', () => {
    const s = histogram('autokestra_task_duration_seconds', { outcome: 'SUCCESS' })
    expect(s?.count).toBe(2)
    expect(s?.buckets['900']).toBe(2)
    expect(s?.buckets['+Inf']).toBe(2)
    expect(s?.sum).toBeGreaterThanOrEqual(0)
  })

  it('counts executions by terminal state, and HTTP requests by route pattern and status', () => {
    expect(sample('autokestra_executions_finished_total', { state: 'SUCCESS' })?.value).toBe('1')
    expect(sample('autokestra_executions_finished_total', { state: 'FAILED' })?.value).toBe('0')
    expect(sample('autokestra_http_requests_total', { route: '/api/v1/workflows/:id/executions', status: '200', method: 'POST' })?.value).toBe('1')
    expect(sample('autokestra_http_requests_total', { route: '/api/v1/executions/:id', status: '404' })?.value).toBe('1')
    // Refused before routing (no key): still labelled by the route its path fits (a trailing slash until the paths are canonical).
    const refused = family('autokestra_http_requests_total').metrics.filter((m) => m.labels?.status === '401')
    expect(refused.map((m) => `${m.labels?.route?.replace(/\/$/, '')} ${m.value}`)).toEqual(['/api/v1/workflows 1'])
    expect(sample('autokestra_http_requests_total', { route: 'unmatched', status: '404' })).toBeUndefined()
    expect(histogram('autokestra_http_request_duration_seconds', { method: 'PUT', route: '/api/v1/workflows/:id' })?.count).toBe(1)
    // Labels carry patterns only: no id, key or query string a client sent.
    expect(text).not.toContain('hunter2')
    expect(text).not.toContain('not-the-key-s3cr3t')
  })

  it('has build info and the process metrics', () => {
    expect(sample('autokestra_build_info', {})?.labels).toMatchObject({ version: expect.any(String), bun_version: Bun.version })
    expect(Number(sample('process_resident_memory_bytes', {})?.value)).toBeGreaterThan(1_000_000)
    expect(Number(sample('process_cpu_seconds_total', {})?.value)).toBeGreaterThan(0)
    expect(Number(sample('process_open_fds', {})?.value)).toBeGreaterThan(2)
    expect(Number(sample('autokestra_event_loop_lag_seconds', {})?.value)).toBeGreaterThanOrEqual(0)
  })

  const promtool = Bun.which('promtool')
  it('passes promtool check metrics (required under CI=true)', async () => {
    if (!promtool) {
      if (process.env.CI === 'true') throw new Error('promtool is not installed (Debian package prometheus; .ci/run installs it)')
      return
    }
    const p = Bun.spawn([promtool, 'check', 'metrics'], { stdin: new Blob([text]), stdout: 'pipe', stderr: 'pipe' })
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
    expect(`${code} ${out}${err}`.trim()).toBe('0')
  })
})

describe('logging.format: json', () => {
  it('writes one JSON object per line, each with a time, a level and a message', () => {
    const lines = stderr.split('\n').filter((l) => l !== '' && !l.startsWith('autokestra listening'))
    expect(lines.length).toBeGreaterThan(5)
    for (const line of lines) {
      const o = JSON.parse(line) as Record<string, unknown>
      expect(Number.isNaN(Date.parse(String(o.time)))).toBe(false)
      expect(['debug', 'info', 'warn', 'error']).toContain(String(o.level))
      expect(typeof o.msg).toBe('string')
    }
  })

  it('has a request line per request with method, route pattern, status and ms, and no key, webhook key or query', () => {
    const requests = stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => 'route' in o)
    expect(requests.find((o) => o.route === '/api/v1/workflows/:id/executions')).toMatchObject({ method: 'POST', status: 200, ms: expect.any(Number) })
    expect(String(requests.find((o) => o.status === 401)?.route).replace(/\/$/, '')).toBe('/api/v1/workflows')
    // A successful scrape or probe is a debug line: not at the default level.
    expect(requests.find((o) => o.route === '/metrics' || o.route === '/health')).toBeUndefined()
    for (const secret of [KEY, 'hunter2', 'not-the-key-s3cr3t', 'token=']) expect(stderr).not.toContain(secret)
  })
})
