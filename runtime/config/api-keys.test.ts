import { describe, expect, it } from 'bun:test'
import { AppError } from '../errors.ts'
import { apiKeyName, namedApiKeys } from './api-keys.ts'
import { loadConfig } from './load.ts'

describe('API key names', () => {
  it('reads a plain key (as before) and a named one, from a file and from WORKFLOW_API_KEYS', async () => {
    const dir = `/tmp/ak-keys-${process.pid}`
    await Bun.write(`${dir}/c.yaml`, 'server:\n  apiKeys:\n    - plain-key-0123456789\n    - { name: alice, key: alice-key-0123456789 }\n')
    const c = loadConfig({ file: `${dir}/c.yaml`, env: {} })
    expect(namedApiKeys(c.server.apiKeys)).toEqual([
      { name: apiKeyName('plain-key-0123456789'), key: 'plain-key-0123456789' },
      { name: 'alice', key: 'alice-key-0123456789' },
    ])
    expect(loadConfig({ env: { WORKFLOW_API_KEYS: 'a-key,b-key' } }).server.apiKeys).toEqual(['a-key', 'b-key'])
    await Bun.$`rm -rf ${dir}`
  })

  it('names a plain key by a digest prefix that never contains the key', () => {
    const name = apiKeyName('s3cret-key-value')
    expect(name).toMatch(/^sha256:[0-9a-f]{8}$/)
    expect(name).not.toContain('s3cret')
    expect(apiKeyName('s3cret-key-value')).toBe(name)
    expect(apiKeyName('other-key-value')).not.toBe(name)
  })

  it('refuses two keys with one name, and a name that is not a plain word', async () => {
    expect(() => namedApiKeys([{ name: 'ops', key: 'k1' }, { name: 'ops', key: 'k2' }])).toThrow(AppError)
    const dir = `/tmp/ak-keys-bad-${process.pid}`
    await Bun.write(`${dir}/c.yaml`, 'server:\n  apiKeys:\n    - { name: "a b", key: k }\n')
    expect(() => loadConfig({ file: `${dir}/c.yaml`, env: {} })).toThrow(/apiKeys/)
    await Bun.$`rm -rf ${dir}`
  })
})
