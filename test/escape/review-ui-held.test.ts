/**
 * Hostile review of the web UI: what held, kept as a regression test against the real server on 127.0.0.1. Every
 * response of the UI and the /openapi page carries the strict UI policy (HEAD included); hostile paths on the asset
 * route (dot segments raw and encoded, encoded slashes and backslashes, NUL, absolute paths, prototype names, very
 * long names) never answer a file outside the bundle; no response invites another origin (no CORS, no framing);
 * and the redirect and the pages ignore a forged Host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { API_CSP, UI_CSP } from '../../api/security-headers.ts'
import { startRig, type UiRig } from './review-ui-harness.ts'

/** A raw HTTP/1.1 exchange: the path exactly as written (fetch would normalise dot segments). */
async function raw(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; head: string; body: string }> {
  const chunks: Uint8Array[] = []
  const done = Promise.withResolvers<void>()
  const sock = await Bun.connect({
    hostname: '127.0.0.1', port,
    socket: { data(_s, d) { chunks.push(new Uint8Array(d)) }, close() { done.resolve() }, error() { done.resolve() } },
  })
  const lines = [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]
  sock.write(`${lines.join('\r\n')}\r\n\r\n`)
  await done.promise
  const text = Buffer.concat(chunks).toString('latin1')
  const cut = text.indexOf('\r\n\r\n')
  return { status: Number(text.slice(9, 12)), head: text.slice(0, cut), body: text.slice(cut + 4) }
}
const header = (head: string, name: string) => head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim()

describe('review-ui: what held', () => {
  let rig: UiRig
  let port: number
  beforeAll(async () => { rig = await startRig(); port = Number(new URL(rig.origin).port) }, 60_000)
  afterAll(async () => { await rig?.close() })

  it('the UI policy is strict: this origin only, no inline or eval, no framing, no plugins, no base, no form posts', () => {
    expect(UI_CSP).not.toMatch(/unsafe-|https?:|\*|blob:|wss?:/)
    for (const d of ["script-src 'self'", "style-src 'self'", "connect-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"]) {
      expect(UI_CSP).toContain(d)
    }
  })

  it('every UI and /openapi answer, HEAD too, carries it with nosniff, DENY, no-store and no CORS', async () => {
    for (const method of ['GET', 'HEAD']) {
      for (const path of ['/ui', '/ui/', '/ui/index.html', '/ui/app.js', '/ui/app.css', '/ui/openapi.js', '/ui/openapi.html', '/openapi', '/openapi/']) {
        const r = await raw(port, method, path, { Origin: 'http://evil.example' })
        expect({ method, path, status: r.status, csp: header(r.head, 'content-security-policy') }).toEqual({ method, path, status: 200, csp: UI_CSP })
        expect([header(r.head, 'x-content-type-options'), header(r.head, 'x-frame-options'), header(r.head, 'cache-control')]).toEqual(['nosniff', 'DENY', 'no-store'])
        expect(r.head.toLowerCase()).not.toContain('access-control-')
      }
    }
    const preflight = await raw(port, 'OPTIONS', '/api/v1/secrets', { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'authorization' })
    expect(preflight.head.toLowerCase()).not.toContain('access-control-allow')
  })

  it('hostile asset paths answer a 404 envelope or a public route, never a file from disk', async () => {
    const hostile = ['/ui/..%2fpackage.json', '/ui/%2e%2e%2fpackage.json', '/ui/..%5cpackage.json', '/ui/..\\package.json', '/ui/%2e%2e/%2e%2e/etc/passwd',
      '/ui/../../etc/passwd', '/ui/%2Fetc%2Fpasswd', '/ui//etc/passwd', '/ui/app.js%00.html', '/ui/%00', '/ui/build.ts', '/ui/src/app.tsx', '/ui/dist/app.js',
      '/ui/..', '/ui/%2e', '/ui/__proto__', '/ui/constructor', '/ui/toString', '/ui/%', '/ui/%zz', `/ui/${'a'.repeat(8000)}`, '/ui/..;/api/v1/secrets']
    for (const path of hostile) {
      const r = await raw(port, 'GET', path)
      expect({ path, status: r.status === 404 || r.status === 400 || r.status === 401 || r.status === 200 }).toEqual({ path, status: true })
      if (r.status === 200) expect({ path, body: r.body }).toMatchObject({ path, body: expect.stringMatching(/^\{"status":"ok"/) })
      expect(r.body).not.toMatch(/root:x:0|"name": ?"autokestra"|import \{|uiAssets/)
      if (r.status !== 200) expect(header(r.head, 'content-security-policy')).toBe(API_CSP)
    }
  })

  it('a forged Host changes neither the redirect nor the page', async () => {
    const r = await raw(port, 'GET', '/', { 'X-Forwarded-Host': 'evil.example' })
    expect([r.status, header(r.head, 'location')]).toEqual([302, '/ui/'])
    const page = await raw(port, 'GET', '/ui/', { 'X-Forwarded-Host': 'evil.example' })
    expect(page.body).not.toContain('evil')
    expect(page.body).not.toMatch(/https?:\/\//)
  })
})
