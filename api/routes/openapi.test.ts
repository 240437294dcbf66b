/** The OpenAPI document and page are made on first request (api/routes/openapi.ts), not at start-up. */
import { describe, expect, it } from 'bun:test'
import { join } from 'node:path'
import pkg from '../../package.json' with { type: 'json' }

describe('OpenAPI routes', () => {
  // In a process of its own: this test file's process may have loaded the plugin for another test.
  it('loads the generator only when the document or its page is first asked for', async () => {
    const p = Bun.spawn(['bun', join(import.meta.dir, '../../test/fixtures/openapi-lazy.ts')], { stdout: 'pipe', stderr: 'pipe' })
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
    expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' })
    const r = JSON.parse(out.trim().split('\n').pop()!)
    expect(r).toMatchObject({ before: false, after: true, status: 200, pageStatus: 200, info: { title: 'autokestra API', version: pkg.version } })
    expect(r.paths).toBeGreaterThan(10)
  }, 30_000)
})
