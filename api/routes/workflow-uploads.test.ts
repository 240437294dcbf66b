/** Workflow uploads in-process: limits from config as 400s before the body is read whole, the bounded parser queue (429 + Retry-After), the deadline. */
import { describe, expect, it } from 'bun:test'
import { HELLO, KEY, fixture } from '../../test/helpers/api-fixture.ts'

/** A chain of `n` tasks, each after the first reading the first one's output. */
const chain = (id: string, n: number) => [`id: ${id}\ntasks:\n  - id: t0\n    type: core/log.info\n    inputs: { message: hi }\n`,
  ...Array.from({ length: n - 1 }, (_, k) =>
    `  - id: t${k + 1}\n    type: core/log.info\n    needs: [t${k}]\n    inputs: { message: "{{ tasks.t0.output.message }}" }\n`)].join('')

/** A body that arrives in chunks, without Content-Length. */
function streamed(text: string, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text)
  let at = 0
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close()
      c.enqueue(bytes.subarray(at, at + chunk))
      at += chunk
    },
  })
}

describe('workflow uploads', () => {
  it('applies the limits of the config, each as 400 INVALID_WORKFLOW with its code and path', async () => {
    const f = fixture(undefined, (c) => { c.limits.maxTasks = 3 })
    expect((await f.req('PUT', '/api/v1/workflows/c', chain('c', 3))).status).toBe(201)
    const r = await f.req('PUT', '/api/v1/workflows/c', chain('c', 4))
    expect(r.status).toBe(400)
    expect(r.body.error).toMatchObject({ code: 'INVALID_WORKFLOW', message: expect.stringContaining('4 tasks; the limit is 3') })
    expect(r.body.error.details.issues).toEqual([{ path: 'tasks', code: 'TOO_MANY_TASKS', message: '4 tasks; the limit is 3 (limits.maxTasks)', line: 3, column: 3 }])
  })

  it('refuses an oversized body by Content-Length, by streaming, and as JSON, before parsing it', async () => {
    const f = fixture(undefined, (c) => { c.limits.maxDocumentBytes = 4096 })
    const big = chain('big', 60)
    expect(Buffer.byteLength(big)).toBeGreaterThan(4096)
    const byLength = await f.req('PUT', '/api/v1/workflows/big', big, { headers: { 'content-length': String(Buffer.byteLength(big)) } })
    expect(byLength.status).toBe(400)
    expect(byLength.body.error.details.issues).toEqual([{
      path: '', code: 'DOCUMENT_TOO_LARGE', message: `the document is ${Buffer.byteLength(big)} bytes; the limit is 4096 (limits.maxDocumentBytes)`,
    }])
    const res = await f.app.handle(new Request('http://localhost/api/v1/workflows/big', {
      method: 'PUT', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'text/yaml' }, body: streamed(`${big}${'#'.repeat(1 << 20)}`, 1024),
    }))
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { details: { issues: unknown[] } } }).error.details.issues[0]).toMatchObject({ code: 'DOCUMENT_TOO_LARGE', message: expect.stringContaining('over 4096 bytes') })
    const json = await f.req('PUT', '/api/v1/workflows/big', { source: big })
    expect(json.status).toBe(400)
    expect(json.body.error.details.issues[0].code).toBe('DOCUMENT_TOO_LARGE')
    // Under the limit, every accepted type still works.
    for (const type of ['text/yaml', 'application/yaml', 'text/plain', 'application/json; charset=utf-8']) {
      const body = type.startsWith('application/json') ? JSON.stringify({ source: HELLO }) : HELLO
      expect((await f.req('PUT', '/api/v1/workflows/hello', body, { type })).status).toBeLessThan(300)
    }
  })

  it('refuses uploads beyond the queue with 429 RATE_LIMITED and Retry-After, and serves the rest', async () => {
    const f = fixture(undefined, (c) => { c.limits.maxQueuedParses = 1 })
    // All three reach the parser within a few ticks; the first keeps the worker busy far longer (~90 KB of
    // YAML), so the second waits in the queue (of one) and the third finds it full.
    const [a, b, c] = await Promise.all([
      f.req('PUT', '/api/v1/workflows/a', chain('a', 800)),
      f.req('PUT', '/api/v1/workflows/b', chain('b', 2)),
      f.req('PUT', '/api/v1/workflows/c', chain('c', 2)),
    ])
    expect(a.status).toBe(201)
    expect(b.status).toBe(201)
    expect(c.status).toBe(429)
    expect(c.body.error).toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: expect.any(Number) } })
    expect(Number(c.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect((await f.req('PUT', '/api/v1/workflows/c', chain('c', 2))).status).toBe(201)
  }, 30_000)

  it('stops a parse that runs past limits.parseTimeoutSeconds: 400 VALIDATION_ABORTED, and the next upload gets a fresh worker', async () => {
    const f = fixture(undefined, (c) => {
      c.limits.parseTimeoutSeconds = 1
      c.limits.maxDocumentBytes = 64 << 20
      c.limits.maxMapKeys = 10_000_000
    })
    // ~12 MB of keys: the yaml package needs several seconds for it, far past the 1 s deadline.
    const keys = Array.from({ length: 600_000 }, (_, i) => `      k${i}: v\n`).join('')
    const r = await f.req('PUT', '/api/v1/workflows/slow', `id: slow\ntasks:\n  - id: a\n    type: core/log.info\n    inputs:\n${keys}`)
    expect(r.status).toBe(400)
    expect(r.body.error.details.issues).toEqual([expect.objectContaining({ path: '', code: 'VALIDATION_ABORTED' })])
    expect((await f.req('PUT', '/api/v1/workflows/hello', HELLO)).status).toBe(201)
  }, 30_000)
})
