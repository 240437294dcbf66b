/**
 * Issue 10, finding 9: a request without a Host (or with an odd one) got an unauthenticated 500 with Bun's
 * development error page (stack, cwd, source lines). The real server bootstrap (`startServer`) is fuzzed over
 * raw TCP: odd Host values, request targets, paths, headers, bodies and methods. Never a 5xx, never a stack or
 * a path of this machine in a body, the error envelope whenever the body is JSON, and the server keeps answering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createConsola } from 'consola'
import { startServer, type RunningServer } from '../../api/server.ts'
import { rawRequest, type RawResponse } from '../helpers/raw-http.ts'
import { freePort } from '../server-helpers.ts'

const KEY = 'fuzz-api-key-0123456789'
const repoRoot = join(import.meta.dir, '..', '..')
let dir: string
let server: RunningServer
let port: number
const internal: string[] = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ak-http-fuzz-'))
  port = freePort()
  writeFileSync(join(dir, 'config.yaml'), `server:\n  host: 127.0.0.1\n  port: ${port}\n  apiKeys: [${KEY}]\nstorage:\n  path: ./data/state.db\n`)
  // The real logger path (it formatted `new URL(req.url)` and threw, which is what reached Bun's error page).
  const logger = createConsola({ level: 0, reporters: [{ log: (o) => { internal.push(o.args.map(String).join(' ')) } }] })
  server = await startServer({ configFile: join(dir, 'config.yaml'), env: { AUTOKESTRA_DISABLE_RUNTIME: '1' }, logger })
})
afterAll(async () => {
  await server.stop()
  rmSync(dir, { recursive: true, force: true })
})

const CRLF = '\r\n'
const req = (line: string, headers: string[], body = '') => `${line}${CRLF}${headers.map((h) => h + CRLF).join('')}${CRLF}${body}`
const host = () => `Host: 127.0.0.1:${port}`

/** Every case: a name and the bytes to send. Each ends its request with `Connection: close` where it can. */
function cases(): [string, string | Uint8Array][] {
  const out: [string, string | Uint8Array][] = []
  const hosts = ['', ' ', 'a b', '[::1', '::1', 'exa%mple', 'a/b', 'a@b', 'a?b', 'a#b', 'host:99999', 'host:0', 'host:abc',
    'host:', ':80', '-lead', 'trail-', 'h'.repeat(300), 'évil.example', 'x\u0000y', '127.0.0.1, evil.example',
    '[::1]:99999', '[zz::1]', 'http://evil/', 'xn--nxasmq6b', '[::1]', '127.0.0.1', 'localhost:7233']
  for (const path of ['/health', '/nope', '/api/v1/workflows', '/api/v1/webhooks/w/k', '/openapi', '/metrics']) {
    out.push([`no Host, HTTP/1.0 GET ${path}`, req(`GET ${path} HTTP/1.0`, [])])
    out.push([`no Host, HTTP/1.1 POST ${path}`, req(`POST ${path} HTTP/1.1`, ['Content-Length: 2', 'Connection: close'], '{}')])
    for (const h of hosts) out.push([`Host ${JSON.stringify(h)} GET ${path}`, req(`GET ${path} HTTP/1.1`, [`Host: ${h}`, 'Connection: close'])])
  }
  out.push(['two Host headers', req('GET /health HTTP/1.1', [host(), 'Host: evil.example', 'Connection: close'])])
  const targets = ['http://evil.example/health', 'http://evil.example/api/v1/workflows', 'https://x/api/v1/secrets', '//health',
    '/api/v1/../api/v1/workflows', '/api/v1/%2e%2e/workflows', '/api/v1/webhooks/%2e%2e/workflows/x', '/api/v1/webhooks/..%2f..%2fworkflows/k',
    '/api/v1/webhooks/%2E%2E/%2E%2E/health', '/%2e%2e/%2e%2e/etc/passwd', '/health/..', '/health?x=%zz', '/api/v1/workflows/%ff%fe',
    '/api/v1/executions/%00', '/api/v1/workflows/' + 'a'.repeat(10_000), '*', 'health', '/health#frag', '/\\..\\..\\health', '/%u002e%u002e/x']
  for (const t of targets) {
    out.push([`target ${t.slice(0, 60)}`, req(`GET ${t} HTTP/1.1`, [host(), 'Connection: close'])])
    out.push([`target ${t.slice(0, 60)} with a wrong key, POST`, req(`POST ${t} HTTP/1.1`, [host(), 'Authorization: Bearer nope', 'Content-Length: 2', 'Connection: close'], '{}')])
  }
  out.push(['raw non-UTF-8 path', Buffer.concat([Buffer.from('GET /health/'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from(` HTTP/1.1\r\n${host()}\r\nConnection: close\r\n\r\n`)])])
  out.push(['invalid UTF-8 in a header value', Buffer.concat([Buffer.from(`GET /api/v1/workflows HTTP/1.1\r\n${host()}\r\nX-API-Key: `), Buffer.from([0xc3, 0x28, 0xff, 0x80]), Buffer.from('\r\nConnection: close\r\n\r\n')])])
  out.push(['invalid UTF-8 in a JSON body', Buffer.concat([Buffer.from(`PUT /api/v1/secrets/A HTTP/1.1\r\n${host()}\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: 14\r\nConnection: close\r\n\r\n{"value":"`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')])])
  out.push(['huge header (100 KB)', req('GET /health HTTP/1.1', [host(), `X-Big: ${'a'.repeat(100_000)}`, 'Connection: close'])])
  out.push(['huge Authorization', req('GET /api/v1/workflows HTTP/1.1', [host(), `Authorization: Bearer ${'k'.repeat(15_000)}`, 'Connection: close'])])
  out.push(['2000 headers', req('GET /health HTTP/1.1', [host(), ...Array.from({ length: 2000 }, (_, i) => `X-H${i}: v`), 'Connection: close'])])
  out.push(['NUL in a header', req('GET /health HTTP/1.1', [host(), 'X-A: a\u0000b', 'Connection: close'])])
  out.push(['obs-fold header', req('GET /health HTTP/1.1', [host(), 'X-A: a', ' folded', 'Connection: close'])])
  out.push(['bare LF line ends', `GET /health HTTP/1.1\n${host()}\nConnection: close\n\n`])
  out.push(['header without a colon', req('GET /health HTTP/1.1', [host(), 'NoColonHere', 'Connection: close'])])
  out.push(['space before colon', req('GET /health HTTP/1.1', [host(), 'X-A : b', 'Connection: close'])])
  const body = (headers: string[], b: string, path = '/api/v1/webhooks/w/k', method = 'POST') => req(`${method} ${path} HTTP/1.1`, [host(), ...headers, 'Connection: close'], b)
  out.push(['two different Content-Lengths', body(['Content-Length: 2', 'Content-Length: 3'], '{}x')])
  out.push(['two equal Content-Lengths', body(['Content-Length: 2', 'Content-Length: 2'], '{}')])
  out.push(['Content-Length list', body(['Content-Length: 2, 2'], '{}')])
  out.push(['negative Content-Length', body(['Content-Length: -1'], '{}')])
  out.push(['non-numeric Content-Length', body(['Content-Length: 1e3'], '{}')])
  out.push(['Content-Length beyond 2^64', body(['Content-Length: 99999999999999999999999'], '{}')])
  out.push(['Content-Length and chunked', body(['Content-Length: 4', 'Transfer-Encoding: chunked'], '0\r\n\r\n')])
  out.push(['chunked twice', body(['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], '2\r\n{}\r\n0\r\n\r\n')])
  out.push(['chunked, gzip', body(['Transfer-Encoding: chunked, gzip'], '2\r\n{}\r\n0\r\n\r\n')])
  out.push(['gzip, chunked', body(['Transfer-Encoding: gzip, chunked'], '2\r\n{}\r\n0\r\n\r\n')])
  out.push(['xchunked', body(['Transfer-Encoding: xchunked'], '2\r\n{}\r\n0\r\n\r\n')])
  out.push(['chunked with a space', body(['Transfer-Encoding : chunked'], '2\r\n{}\r\n0\r\n\r\n')])
  out.push(['bad chunk size', body(['Transfer-Encoding: chunked'], 'zz\r\n{}\r\n0\r\n\r\n')])
  out.push(['chunk size overflow', body(['Transfer-Encoding: chunked'], 'ffffffffffffffffff\r\n{}\r\n0\r\n\r\n')])
  out.push(['chunk extension', body(['Transfer-Encoding: chunked'], '2;ext=1\r\n{}\r\n0\r\n\r\n')])
  out.push(['smuggled second request', body(['Content-Length: 2'], `{}GET /api/v1/secrets HTTP/1.1\r\n${host()}\r\n\r\n`)])
  out.push(['authenticated, malformed JSON', body([`Authorization: Bearer ${KEY}`, 'Content-Type: application/json', 'Content-Length: 5'], '{oops', '/api/v1/secrets/A', 'PUT')])
  out.push(['authenticated, JSON of the wrong type', body([`Authorization: Bearer ${KEY}`, 'Content-Type: application/json', 'Content-Length: 4'], 'null', '/api/v1/workflows/x/executions')])
  out.push(['authenticated, odd content-type', body([`Authorization: Bearer ${KEY}`, 'Content-Type: multipart/form-data; boundary=x', 'Content-Length: 5'], '--x--', '/api/v1/secrets/A', 'PUT')])
  for (const m of ['TRACE', 'CONNECT', 'OPTIONS', 'HEAD', 'PROPFIND', 'PATCH', 'DELETE', 'get', 'G@T']) {
    out.push([`method ${m} /health`, req(`${m} /health HTTP/1.1`, [host(), 'Connection: close'])])
    out.push([`method ${m} /api/v1/workflows`, req(`${m} /api/v1/workflows HTTP/1.1`, [host(), 'Connection: close'])])
  }
  out.push(['CONNECT authority-form', req('CONNECT 127.0.0.1:22 HTTP/1.1', [host(), 'Connection: close'])])
  out.push(['HTTP/0.9', 'GET /health\r\n'])
  out.push(['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'])
  out.push(['HTTP/9.9', req('GET /health HTTP/9.9', [host(), 'Connection: close'])])
  out.push(['no version', req('GET /health', [host(), 'Connection: close'])])
  out.push(['garbage', '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u01fc\u0003\u0003'])
  out.push(['empty line only', '\r\n\r\n'])
  return out
}

/** What makes a response unsafe: a 5xx, this machine's paths, a stack frame, Bun's error page, a JSON error without the envelope. */
function problems(name: string, r: RawResponse): string[] {
  const found: string[] = []
  // Bun's HTTP parser answers 505 (empty body) to a request line whose version is not HTTP/1.0 or 1.1, before any
  // of our code runs: that is the protocol's answer, not a server error, so it is the one 5xx allowed.
  const versionRefused = r.status === 505 && r.body === ''
  if (r.status >= 500 && !versionRefused) found.push(`${name}: status ${r.status}`)
  for (const leak of [repoRoot, process.cwd(), dir, 'node_modules', '__bunfallback', 'DevErrorPage']) {
    if (r.raw.includes(leak)) found.push(`${name}: body carries ${JSON.stringify(leak)}`)
  }
  if (/\n\s+at .+[:(]\d+/.test(r.body)) found.push(`${name}: body carries a stack frame`)
  if (r.headers['content-type']?.includes('json') && r.body !== '') {
    try {
      const json = JSON.parse(r.body) as { error?: { code?: unknown; message?: unknown } }
      if (r.status >= 400 && (typeof json.error?.code !== 'string' || typeof json.error.message !== 'string')) found.push(`${name}: JSON error without the envelope`)
    } catch {
      found.push(`${name}: content-type JSON but the body does not parse`)
    }
  }
  return found
}

describe('finding 9: no request produces Bun\'s development error page', () => {
  it('serves in production mode whatever NODE_ENV says', () => {
    expect(server.app.server?.development).toBe(false)
  })

  it('answers an error that escapes every handler with the envelope: the Bun-level error option of createApp', async () => {
    // The app's own serve options on a server whose fetch throws, as a hook outside Elysia's handling would.
    const serve = server.app.config.serve as Partial<Bun.Serve.Options<undefined>>
    expect(serve.development).toBe(false)
    const bare = Bun.serve({ ...serve, hostname: '127.0.0.1', port: 0, fetch: () => { throw new Error(`escaped from ${repoRoot}`) } } as Bun.Serve.Options<undefined>)
    try {
      const r = await rawRequest(bare.port!, req('GET /x HTTP/1.1', [`Host: 127.0.0.1:${bare.port}`, 'Connection: close']))
      expect(r.status).toBe(500)
      expect(JSON.parse(r.body)).toEqual({ error: { code: 'INTERNAL', message: 'internal error (see the server log)' } })
      expect(problems('escaped error', { ...r, status: 0 })).toEqual([])
      expect(internal.some((l) => l.includes('request failed') && l.includes('escaped from'))).toBe(true) // logged, not shown
    } finally {
      bare.stop(true)
    }
  })

  it('answers a missing or malformed Host with 400 INVALID_INPUT and the envelope', async () => {
    for (const bytes of [req('GET /health HTTP/1.0', []), req('GET /nope HTTP/1.1', ['Host: a b', 'Connection: close']),
      req('GET /api/v1/workflows HTTP/1.1', ['Host: [::1', 'Connection: close'])]) {
      const r = await rawRequest(port, bytes)
      expect(r.status).toBe(400)
      expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'INVALID_INPUT', details: { path: 'headers.host' } } })
    }
  })

  it('still serves well-formed requests, and absolute-form targets still need the API key', async () => {
    expect((await rawRequest(port, req('GET /health HTTP/1.1', [host(), 'Connection: close']))).status).toBe(200)
    expect((await rawRequest(port, req('GET /health HTTP/1.1', ['Host: [::1]:80', 'Connection: close']))).status).toBe(200)
    expect((await rawRequest(port, req('GET http://evil.example/api/v1/workflows HTTP/1.1', [host(), 'Connection: close']))).status).toBe(401)
    const ok = await rawRequest(port, req('GET http://evil.example/api/v1/workflows HTTP/1.1', [host(), `Authorization: Bearer ${KEY}`, 'Connection: close']))
    expect(ok.status).toBe(200)
  })

  it('fuzzes request lines, Host values, paths, headers, bodies and methods: never a 5xx, a stack or a local path', async () => {
    const all = cases()
    const found: string[] = []
    let answered = 0
    for (const [name, bytes] of all) {
      const r = await rawRequest(port, bytes, { deadlineMs: 2000 })
      if (r.status) answered++
      if (process.env.FUZZ_VERBOSE) console.log(r.status, name)
      found.push(...problems(name, r))
    }
    // After all of it the server still answers at once.
    expect((await rawRequest(port, req('GET /health HTTP/1.1', [host(), 'Connection: close']))).status).toBe(200)
    expect(found).toEqual([])
    expect(answered).toBeGreaterThan(all.length * 0.9) // nearly every case got a response, so the checks above had bodies to read
    expect(internal.filter((l) => /Invalid URL|TypeError/.test(l))).toEqual([])
  }, 120_000)
})
