/** Unit tests: network permission patterns. */

import { describe, expect, it } from 'bun:test'
import { allowedPorts, isNetworkAllowed, parseNetworkPattern } from './network.ts'

describe('network patterns', () => {
  it('defaults a bare host to ports 80 and 443', () => {
    expect(parseNetworkPattern('api.example.com')).toEqual({ host: 'api.example.com', ports: [80, 443] })
  })
  it('matches host, port and wildcard suffix', () => {
    const p = ['*.example.com', '127.0.0.1:8080', '[::1]:9000']
    expect(isNetworkAllowed(p, 'api.example.com', 443)).toBe(true)
    expect(isNetworkAllowed(p, 'example.com', 443)).toBe(false)
    expect(isNetworkAllowed(p, 'evil-example.com', 443)).toBe(false)
    expect(isNetworkAllowed(p, 'api.example.com', 8080)).toBe(false)
    expect(isNetworkAllowed(p, '127.0.0.1', 8080)).toBe(true)
    expect(isNetworkAllowed(p, '127.0.0.2', 8080)).toBe(false)
    expect(isNetworkAllowed(p, '::1', 9000)).toBe(true)
  })
  it('lists the ports the kernel must allow', () => {
    expect(allowedPorts(['a.com', 'b.com:8080', 'c.com:443'])).toEqual([80, 443, 8080])
  })
  it('rejects malformed patterns', () => {
    expect(() => parseNetworkPattern('host:99999')).toThrow('invalid port')
    expect(() => parseNetworkPattern('a b')).toThrow('invalid network pattern')
  })
})
