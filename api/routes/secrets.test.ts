/** Secrets routes in-process: metadata-only list, PUT 204, GET value, DELETE 204/404, name normalisation, size limit. */
import { describe, expect, it } from 'bun:test'
import { fixture } from '../../test/helpers/api-fixture.ts'

describe('secret routes', () => {
  it('sets (204), lists metadata only, gets the value, deletes (204 then 404)', async () => {
    const f = fixture()
    const put = await f.req('PUT', '/api/v1/secrets/github_token', { value: 's3cr3t-value' })
    expect(put.status).toBe(204)
    const list = await f.req('GET', '/api/v1/secrets')
    expect(list.body.items).toEqual([{ name: 'GITHUB_TOKEN', version: 1, createdAt: f.clock.now(), updatedAt: f.clock.now() }])
    expect(JSON.stringify(list.body)).not.toContain('s3cr3t')
    expect((await f.req('GET', '/api/v1/secrets/Github_Token')).body).toEqual({ name: 'GITHUB_TOKEN', value: 's3cr3t-value' })
    await f.req('PUT', '/api/v1/secrets/GITHUB_TOKEN', { value: 'v2' })
    expect((await f.req('GET', '/api/v1/secrets')).body.items[0].version).toBe(2)
    expect((await f.req('DELETE', '/api/v1/secrets/github_token')).status).toBe(204)
    const again = await f.req('DELETE', '/api/v1/secrets/github_token')
    expect(again.status).toBe(404)
    expect(again.body.error.code).toBe('NOT_FOUND')
    expect((await f.req('GET', '/api/v1/secrets/github_token')).status).toBe(404)
    // Every administrative action is audited by name and version, never with the value.
    const audit = (await f.store.audit.list()).filter((a) => a.type.startsWith('SECRET_')).reverse()
    expect(audit.map((a) => [a.type, a.data])).toEqual([
      ['SECRET_SET', { name: 'GITHUB_TOKEN', version: 1 }],
      ['SECRET_REVEALED', { name: 'GITHUB_TOKEN' }],
      ['SECRET_SET', { name: 'GITHUB_TOKEN', version: 2 }],
      ['SECRET_DELETED', { name: 'GITHUB_TOKEN' }],
    ])
    expect(JSON.stringify(audit)).not.toContain('s3cr3t')
  })

  it('rejects bad names, bad bodies and oversized values with 400', async () => {
    const f = fixture()
    expect((await f.req('PUT', '/api/v1/secrets/bad-name', { value: 'x' })).body.error).toMatchObject({ code: 'INVALID_INPUT', details: { path: 'name' } })
    expect((await f.req('PUT', '/api/v1/secrets/OK', { value: 1 })).body.error.details.path).toBe('body.value')
    expect((await f.req('PUT', '/api/v1/secrets/OK', { value: '' })).status).toBe(400)
    expect((await f.req('PUT', '/api/v1/secrets/OK', '{"value":', { type: 'application/json' })).status).toBe(400)
    const big = await f.req('PUT', '/api/v1/secrets/OK', { value: 'x'.repeat(64 * 1024 + 1) })
    expect(big.status).toBe(400)
    expect(big.body.error.message).toContain('64 KiB')
  })
})
