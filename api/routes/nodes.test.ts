/** `GET /api/v1/nodes` in-process on a real SQLite store: the rows as the registry holds them, live or expired by the server's clock. */
import { describe, expect, it } from 'bun:test'
import { fixture } from '../../test/helpers/api-fixture.ts'

describe('node routes', () => {
  it('lists every registered engine oldest first, live until its lease runs out, none `self` without a runtime', async () => {
    const f = fixture()
    const now = f.clock.now()
    await f.store.engines.register({ id: 'a/1/9/1/aaaa', host: 'a', pid: 1, startedAt: now - 60_000, leaseUntil: now, version: '1.0.0' }, now - 5000)
    await f.store.engines.register({ id: 'b/2/9/1/bbbb', host: 'b', pid: 2, startedAt: now - 30_000, leaseUntil: now - 1 }, now - 40_000)
    const r = await f.req('GET', '/api/v1/nodes')
    expect(r.status).toBe(200)
    expect(r.body).toEqual({
      time: now,
      items: [
        { id: 'a/1/9/1/aaaa', host: 'a', pid: 1, version: '1.0.0', startedAt: now - 60_000, heartbeatAt: now - 5000, leaseUntil: now, state: 'live', self: false },
        // Registered by an older engine (no version), and its lease ran out a millisecond ago.
        { id: 'b/2/9/1/bbbb', host: 'b', pid: 2, startedAt: now - 30_000, heartbeatAt: now - 40_000, leaseUntil: now - 1, state: 'expired', self: false },
      ],
    })
    await f.clock.advance(1)
    expect((await f.req('GET', '/api/v1/nodes')).body.items.map((n: { state: string }) => n.state)).toEqual(['expired', 'expired'])
  })

  it('is behind the API key like every /api/v1 route', async () => {
    const f = fixture()
    const r = await f.req('GET', '/api/v1/nodes', undefined, { auth: false })
    expect(r.status).toBe(401)
    expect(r.body.error.code).toBe('UNAUTHORIZED')
  })
})
