/**
 * Unauthenticated upload pressure on the real server (issue 10, finding 7): RSS of a `workflow server start`
 * child process while N slow uploads without a valid key are in flight, and how long slowloris connections
 * (headers or body trickled) stay open. Prints JSON.
 * Env: UPLOADS (400), BODY_BYTES (1 MiB), HOLD_MS (4000: how long the held uploads are watched).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const UPLOADS = Number(process.env.UPLOADS ?? 400)
const BODY_BYTES = Number(process.env.BODY_BYTES ?? 1024 * 1024)
const HOLD_MS = Number(process.env.HOLD_MS ?? 4000)
const KEY = 'bench-api-key-0123456789'
const root = join(import.meta.dir, '..')

const freePort = () => {
  const s = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const p = s.port
  s.stop(true)
  return p
}
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024

interface Server { url: string; port: number; pid: number; hookPath: string; stop(): Promise<void> }

/** A fresh server per scenario, so one scenario's heap does not carry into the next. */
async function startServer(): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'ak-bench-uploads-'))
  const port = freePort()
  writeFileSync(join(dir, 'config.yaml'), `server:\n  host: 127.0.0.1\n  port: ${port}\n  apiKeys: [${KEY}]\n` +
    `storage:\n  path: ./data/state.db\nplugins:\n  paths: [${join(root, 'plugins')}]\n`)
  const env: Record<string, string> = { ...process.env as Record<string, string>, NO_COLOR: '1' }
  const proc = Bun.spawn(['bun', join(root, 'cli/main.ts'), 'server', 'start', '-c', join(dir, 'config.yaml')], { cwd: dir, env, stdout: 'ignore', stderr: 'ignore' })
  const url = `http://127.0.0.1:${port}`
  const end = Date.now() + 20_000
  while (!(await fetch(`${url}/health`).then((r) => r.ok, () => false))) {
    if (Date.now() > end) throw new Error('server did not start')
    await Bun.sleep(50)
  }
  const yaml = 'id: hook\ntriggers:\n  - type: webhook\ntasks:\n  - id: a\n    type: core/log.info\n    inputs: { message: hi }\n'
  const res = await fetch(`${url}/api/v1/workflows/hook`, { method: 'PUT', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'text/yaml' }, body: yaml })
  if (res.status !== 201) throw new Error(`apply failed: ${res.status} ${await res.text()}`)
  // The key is in the apply answer (shown once since keys are stored hashed; in `workflow.webhook` before that).
  const applied = await res.json() as { webhook?: { path: string }; workflow: { webhook?: { path?: string } } }
  const hookPath = applied.webhook?.path ?? applied.workflow.webhook?.path ?? ''
  return {
    url, port, pid: proc.pid, hookPath,
    stop: async () => { proc.kill('SIGTERM'); await proc.exited; rmSync(dir, { recursive: true, force: true }) },
  }
}

interface Conn { socket: Socket; responded: boolean; closedAt?: number; status?: number }

/** Opens one connection, writes `head`, then `bytes` of body in 64 KiB chunks (as fast as the server takes them). */
function upload(port: number, head: string, bytes: number): Promise<Conn> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const c: Conn = { socket, responded: false }
    const chunk = Buffer.alloc(64 * 1024, 0x61)
    let left = bytes
    socket.on('data', (d) => {
      if (!c.responded) c.status = Number(/^HTTP\/1\.1 (\d+)/.exec(d.toString('latin1'))?.[1])
      c.responded = true
    })
    socket.on('close', () => { c.closedAt ??= Date.now(); resolve(c) })
    socket.on('error', () => {})
    const pump = () => {
      while (left > 0 && !socket.destroyed) {
        const n = Math.min(left, chunk.length)
        left -= n
        if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { socket.once('drain', pump); return }
      }
      resolve(c)
    }
    socket.on('connect', () => { socket.write(head); pump() })
  })
}

/** N uploads of BODY_BYTES - 1 (never complete), held for HOLD_MS: the server's peak RSS and what the clients saw. */
async function heldUploads(name: string, pathFor: (s: Server) => string) {
  const s = await startServer()
  const path = pathFor(s)
  await Bun.sleep(500)
  const before = rssMb(s.pid)
  const head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Type: application/json\r\nContent-Length: ${BODY_BYTES}\r\n\r\n`
  const t0 = Date.now()
  const conns = await Promise.all(Array.from({ length: UPLOADS }, () => upload(s.port, head, BODY_BYTES - 1)))
  let peak = rssMb(s.pid)
  const until = Date.now() + HOLD_MS
  while (Date.now() < until) { await Bun.sleep(100); peak = Math.max(peak, rssMb(s.pid)) }
  const statuses: Record<string, number> = {}
  for (const c of conns) statuses[String(c.status ?? 'none')] = (statuses[String(c.status ?? 'none')] ?? 0) + 1
  const result = {
    name, uploads: UPLOADS, bodyBytes: BODY_BYTES, rssBeforeMb: Math.round(before), rssPeakMb: Math.round(peak),
    rssAddedMb: Math.round(peak - before), statuses, closedByServer: conns.filter((c) => c.closedAt !== undefined).length,
    sendMs: Date.now() - t0 - HOLD_MS,
  }
  for (const c of conns) c.socket.destroy()
  await s.stop()
  return result
}

/** N connections that trickle one byte a second (headers, or a body the handler waits for): when the server cuts them. */
async function slowloris(name: string, headFor: (s: Server) => string, trickle: string, maxMs = 60_000) {
  const s = await startServer()
  await Bun.sleep(500)
  const before = rssMb(s.pid)
  const t0 = Date.now()
  let peak = before
  const closedAfter = await Promise.all(Array.from({ length: UPLOADS }, () => new Promise<{ at: number | null; status: string }>((resolve) => {
    const socket = connect(s.port, '127.0.0.1')
    let responded = ''
    const iv = setInterval(() => {
      if (Date.now() - t0 > maxMs) { clearInterval(iv); socket.destroy(); resolve({ at: null, status: status() }) } else socket.write(trickle)
    }, 1000)
    socket.on('data', (d) => { responded += d.toString('latin1') })
    const status = () => /^HTTP\/1\.1 (\d+)/.exec(responded)?.[1] ?? 'none'
    socket.on('close', () => { clearInterval(iv); resolve({ at: Date.now() - t0, status: status() }) })
    socket.on('error', () => {})
    socket.on('connect', () => socket.write(headFor(s)))
  })))
  peak = Math.max(peak, rssMb(s.pid))
  const cut = closedAfter.map((c) => c.at).filter((x): x is number => x !== null).sort((a, b) => a - b)
  const statuses: Record<string, number> = {}
  for (const c of closedAfter) statuses[c.status] = (statuses[c.status] ?? 0) + 1
  const result = {
    name, connections: UPLOADS, rssBeforeMb: Math.round(before), rssAfterMb: Math.round(peak),
    cutByServer: cut.length, stillOpenAfterMs: closedAfter.length - cut.length ? maxMs : 0, statuses,
    cutAfterMs: cut.length ? { min: cut[0], max: cut[cut.length - 1] } : null,
  }
  await s.stop()
  return result
}

const only = process.argv[2]
const out: unknown[] = []
if (!only || only === 'uploads') {
  out.push(await heldUploads('wrong key', () => '/api/v1/webhooks/hook/not-the-key'))
  out.push(await heldUploads('unknown workflow', () => '/api/v1/webhooks/nope/not-the-key'))
  out.push(await heldUploads('valid key (one client IP)', (s) => s.hookPath))
}
if (!only || only === 'slowloris') {
  out.push(await slowloris('headers trickled', () => 'POST /api/v1/webhooks/hook/x HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X: y\r\n'))
  out.push(await slowloris('body trickled, wrong key', (s) => `POST /api/v1/webhooks/hook/x HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Length: 100000\r\n\r\n`, 'a'))
  out.push(await slowloris('body trickled, valid key', (s) => `POST ${s.hookPath} HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Length: 100000\r\n\r\n`, 'a'))
}
console.log(JSON.stringify({ machine: { bun: Bun.version, platform: `${process.platform}-${process.arch}` }, results: out }, null, 2))
