/**
 * Issue 10, finding 7: webhook bodies were buffered before the key was checked (400 keyless slow uploads added
 * ~408 MB of RSS). Over raw TCP against the real server bootstrap: the key is checked before a byte of the body
 * is read, a refused upload is not read on, each client IP has a bounded number of calls in flight, a trickled
 * body is cut with 408 and the envelope, and trickled headers are cut too. RSS figures: bench/webhook-uploads.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createConsola } from 'consola'
import { startServer, type RunningServer } from '../../api/server.ts'
import { parseResponse, rawRequest } from '../helpers/raw-http.ts'
import { freePort } from '../server-helpers.ts'

const KEY = 'uploads-api-key-0123456789'
const UPLOADS_PER_IP = 2
let dir: string
let server: RunningServer
let port: number
let hookPath: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ak-webhook-uploads-'))
  port = freePort()
  writeFileSync(join(dir, 'config.yaml'), `server:\n  host: 127.0.0.1\n  port: ${port}\n  apiKeys: [${KEY}]\n` +
    `  webhookBodyTimeoutSeconds: 1\n  webhookUploadsPerIp: ${UPLOADS_PER_IP}\nstorage:\n  path: ./data/state.db\n`)
  server = await startServer({ configFile: join(dir, 'config.yaml'), env: { AUTOKESTRA_DISABLE_RUNTIME: '1' }, logger: createConsola({ level: -999 }) })
  const yaml = 'id: hook\ntriggers:\n  - type: webhook\ntasks:\n  - id: a\n    type: core/log.info\n    inputs: { message: hi }\n'
  const res = await fetch(`${server.url}/api/v1/workflows/hook`, { method: 'PUT', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'text/yaml' }, body: yaml })
  expect(res.status).toBe(201)
  hookPath = hookPathOf(await res.json())
})
afterAll(async () => {
  await server.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** The webhook path with its key, as the apply answer shows it once. */
function hookPathOf(applied: unknown): string {
  const path = (applied as { webhook?: { path?: string } }).webhook?.path
  if (!path) throw new Error(`no webhook path in the apply answer: ${JSON.stringify(applied)}`)
  return path
}

/** Headers announcing a 1 MiB JSON body, and none of the body. */
const head = (path: string, length = 1024 * 1024) =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`

/** A connection that sent `bytes` and stays open; `response` settles with what the server answers, if it does. */
function hold(bytes: string): { socket: Socket; response: Promise<ReturnType<typeof parseResponse> & { closed: boolean }> } {
  const socket = connect(port, '127.0.0.1')
  let raw = ''
  const response = new Promise<ReturnType<typeof parseResponse> & { closed: boolean }>((resolve) => {
    socket.on('data', (d) => {
      raw += d.toString('latin1')
      const r = parseResponse(raw)
      if (r.status && r.body.length >= Number(r.headers['content-length'] ?? 0)) resolve({ ...r, closed: false })
    })
    socket.on('close', () => resolve({ ...parseResponse(raw), closed: true }))
    socket.on('error', () => {})
  })
  socket.on('connect', () => socket.write(bytes))
  return { socket, response }
}

describe('finding 7: webhooks check the key before reading the body', () => {
  it('refuses a wrong key or an unknown workflow from the headers alone, and closes the connection', async () => {
    for (const path of ['/api/v1/webhooks/hook/not-the-key', '/api/v1/webhooks/nope/not-the-key']) {
      // None of the announced 1 MiB is sent: the answer can only come from the path.
      const r = await rawRequest(port, head(path), { deadlineMs: 5000 })
      expect(r.status).toBe(404)
      expect(JSON.parse(r.body)).toEqual({ error: { code: 'NOT_FOUND', message: 'no such webhook' } })
      expect(r.headers.connection).toBe('close')
      expect(r.closedByServer).toBe(true)
    }
  })

  it('refuses a disabled workflow before its body too', async () => {
    await fetch(`${server.url}/api/v1/workflows/hook`, { method: 'PATCH', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '{"enabled":false}' })
    try {
      const r = await rawRequest(port, head(hookPath), { deadlineMs: 5000 })
      expect(r.status).toBe(409)
      expect(JSON.parse(r.body).error.code).toBe('WORKFLOW_DISABLED')
    } finally {
      await fetch(`${server.url}/api/v1/workflows/hook`, { method: 'PATCH', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '{"enabled":true}' })
    }
  })

  it('bounds the calls one IP has in flight: beyond the bound, 429 with Retry-After at once, body unread', async () => {
    const held = Array.from({ length: UPLOADS_PER_IP }, () => hold(head(hookPath)))
    try {
      // The held ones are accepted (their body is awaited) and still unanswered; the next one is refused.
      let refused: Awaited<ReturnType<typeof rawRequest>> | undefined
      const end = Date.now() + 5000
      while (Date.now() < end) {
        const r = await rawRequest(port, head(hookPath), { deadlineMs: 300 })
        if (r.status === 429) { refused = r; break }
      }
      expect(refused?.status).toBe(429)
      expect(JSON.parse(refused!.body).error).toMatchObject({ code: 'RATE_LIMITED', message: expect.stringContaining('in flight from this address') })
      expect(refused!.headers['retry-after']).toBe('1')
      expect(refused!.headers.connection).toBe('close')
      // A wrong key is refused the same way: the bound is taken before the key is checked.
      expect((await rawRequest(port, head('/api/v1/webhooks/hook/not-the-key'))).status).toBe(429)
    } finally {
      for (const h of held) h.socket.destroy()
    }
    // The slots come back once those clients are gone.
    const end = Date.now() + 5000
    let status = 0
    while (Date.now() < end && status !== 404) status = (await rawRequest(port, head('/api/v1/webhooks/hook/not-the-key'))).status
    expect(status).toBe(404)
  })

  it('cuts a body trickled past the deadline with 408 REQUEST_TIMEOUT and the envelope', async () => {
    const h = hold(`${head(hookPath, 100)}{"a"`)
    const trickle = setInterval(() => h.socket.write(' '), 200)
    try {
      const r = await Promise.race([h.response, Bun.sleep(8000).then(() => undefined)])
      expect(r?.status).toBe(408)
      expect(JSON.parse(r!.body).error).toMatchObject({ code: 'REQUEST_TIMEOUT', details: { path: 'body' } })
      expect(r!.headers.connection).toBe('close')
    } finally {
      clearInterval(trickle)
      h.socket.destroy()
    }
  })

  it('still takes a whole body from the key holder (no runtime here: 409 after the body is read)', async () => {
    const r = await rawRequest(port, `${head(hookPath, 2)}{}`, { deadlineMs: 5000, untilResponse: true })
    expect(r.status).toBe(409)
    expect(JSON.parse(r.body).error.code).toBe('CONFLICT')
  })

  it('cuts a connection that trickles its headers (Bun closes it within ~12 s whatever the idle timeout)', async () => {
    const socket = connect(port, '127.0.0.1')
    const t0 = Date.now()
    const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - t0)))
    socket.on('error', () => {})
    socket.on('connect', () => socket.write(`POST ${hookPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`))
    const trickle = setInterval(() => socket.write('X-Slow: y\r\n'), 500)
    try {
      const after = await Promise.race([closed, Bun.sleep(25_000).then(() => -1)])
      expect(after).toBeGreaterThan(0) // closed by the server, not left open past the deadline
    } finally {
      clearInterval(trickle)
      socket.destroy()
    }
  }, 30_000)
})
