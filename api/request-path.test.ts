/** Reading a request's path without throwing, and redacting webhook keys for logs. */
import { describe, expect, it } from 'bun:test'
import { isValidHost } from './request-guard.ts'
import { loggablePath, pathOf } from './request-path.ts'

describe('request paths', () => {
  it('reads the path of an absolute or a path-only URL without throwing', () => {
    expect(pathOf(new Request('http://localhost/api/v1/x?limit=1'))).toBe('/api/v1/x')
    // What Bun hands over when the Host is missing: a path-only url (a Request cannot be built with one here).
    expect(pathOf({ url: '/health?x=1' } as Request)).toBe('/health')
    expect(pathOf({ url: '/a#b' } as Request)).toBe('/a')
  })

  it('never logs a webhook key', () => {
    expect(loggablePath('/api/v1/webhooks/hook/s3cr3t-key')).toBe('/api/v1/webhooks/hook/***')
    expect(loggablePath('/api/v1/webhooks/hook/s3cr3t/extra')).toBe('/api/v1/webhooks/hook/***')
    expect(loggablePath('/api/v1/workflows/hook')).toBe('/api/v1/workflows/hook')
    expect(loggablePath('/api/v1/webhooks/hook')).toBe('/api/v1/webhooks/hook')
    // However a sender or proxy misspells the URL, the key is still real.
    expect(loggablePath('//api/v1/webhooks/hook/k')).toBe('//api/v1/webhooks/hook/***')
    expect(loggablePath('/prefix/api/v1/webhooks/hook/k')).toBe('/prefix/api/v1/webhooks/hook/***')
    expect(loggablePath('/api/v1/webhooks/hook%2Fk')).toBe('/api/v1/webhooks/***')
    expect(loggablePath('/api/v1/%77ebhooks/hook/k')).toBe('/api/v1/%77ebhooks/hook/***')
    expect(loggablePath('/API/V1/WEBHOOKS/hook/k')).toBe('/API/V1/WEBHOOKS/hook/***')
    expect(loggablePath('/api/v1/webhook/hook/k')).toBe('/api/v1/***')
    expect(loggablePath('/api/v1/webhooks%2Fhook%2Fk')).toBe('/api/v1/***')
    expect(loggablePath('/api/v1/webhooks/%')).toBe('/api/v1/webhooks/***')
  })

  it('accepts host[:port] and bracketed IPv6, refuses anything odd', () => {
    for (const ok of ['localhost', 'localhost:7233', '127.0.0.1', '[::1]', '[::1]:80', 'a.b-c.example', 'svc_1.internal', 'example.com.', 'EXAMPLE.com:443']) expect([ok, isValidHost(ok)]).toEqual([ok, true])
    for (const bad of ['', 'a b', '[::1', 'exa%mple', 'a/b', 'a@b', 'host:0', 'host:99999', 'host:', ':80', '-x', 'é.example', 'a, b', 'a..', '.a'])
      expect([bad, isValidHost(bad)]).toEqual([bad, false])
  })
})
