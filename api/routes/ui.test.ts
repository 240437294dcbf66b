/**
 * The web UI routes: `/` redirects to `/ui/`, the page and its bundle carry the UI's CSP, an unknown file is a 404
 * envelope; the bundle is built on the first request when ui/dist is missing, within the 200 KB gzipped budget; and
 * a server nobody opens the UI on has not loaded the build module or the view library (a subprocess reads its module
 * registry, so other test files cannot have loaded them first).
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Elysia } from 'elysia'
import { buildUi, gzippedSizes } from '../../ui/build.ts'
import { fixture } from '../../test/helpers/api-fixture.ts'
import { UI_CSP } from '../security-headers.ts'
import { uiRoutes } from './ui.ts'

const empty = mkdtempSync(join(tmpdir(), 'ak-ui-dist-'))
afterAll(() => rmSync(empty, { recursive: true, force: true }))

describe('/ui', () => {
  it('/ redirects to /ui/; the page, its script and its styles carry the UI CSP and nosniff; unknown files are 404', async () => {
    const f = fixture()
    const root = await f.app.handle(new Request('http://localhost/'))
    expect([root.status, root.headers.get('location')]).toEqual([302, '/ui/'])
    for (const [path, type] of [['/ui/', 'text/html'], ['/ui', 'text/html'], ['/ui/app.js', 'text/javascript'], ['/ui/app.css', 'text/css']] as const) {
      const res = await f.app.handle(new Request(`http://localhost${path}`))
      expect({ path, status: res.status, type: res.headers.get('content-type')?.split(';')[0] }).toEqual({ path, status: 200, type })
      expect(res.headers.get('content-security-policy')).toBe(UI_CSP)
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    }
    const page = await (await f.app.handle(new Request('http://localhost/ui/'))).text()
    expect(page).toContain('<script type="module" src="/ui/app.js"></script>')
    expect(page).not.toMatch(/<script>|https?:\/\//)
    const missing = await f.app.handle(new Request('http://localhost/ui/secret.txt'))
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')
    // The API keeps its own strict CSP.
    expect((await f.req('GET', '/api/v1/workflows')).headers.get('content-security-policy')).not.toBe(UI_CSP)
  }, 30_000)

  it('builds the bundle on the first request when there is no ui/dist', async () => {
    const app = new Elysia().use(uiRoutes({ distDir: join(empty, 'nothing-here') }))
    const js = await app.handle(new Request('http://localhost/ui/app.js'))
    expect(js.status).toBe(200)
    const text = await js.text()
    expect(text.length).toBeGreaterThan(10_000)
    expect(text).not.toMatch(/https:\/\/(cdn|unpkg|fonts)\./)
  }, 30_000)

  it('the UI sources never write HTML or evaluate strings (everything shown goes through Preact\'s escaping)', () => {
    const src = join(import.meta.dir, '../../ui/src')
    const found: string[] = []
    for (const file of new Bun.Glob('**/*.{ts,tsx}').scanSync(src)) {
      const text = readFileSync(join(src, file), 'utf8')
      for (const bad of ['dangerouslySetInnerHTML', 'innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function'])
        if (text.includes(bad)) found.push(`${file}: ${bad}`)
    }
    expect(found).toEqual([])
  })

  it('the whole UI is at most 200 KB gzipped', async () => {
    const built = await buildUi()
    if ('error' in built) throw new Error(built.error)
    const sizes = gzippedSizes(built)
    const total = Object.values(sizes).reduce((a, b) => a + b, 0)
    expect(total).toBeLessThanOrEqual(200 * 1024)
    expect(sizes['app.js']).toBeGreaterThan(0)
  }, 30_000)

  it('an idle server has not loaded the UI build module nor Preact; the first /ui request loads them', async () => {
    const script = `
      const { fixture } = await import(${JSON.stringify(join(import.meta.dir, '../../test/helpers/api-fixture.ts'))})
      const loaded = () => Object.keys(require.cache).filter((k) => k.endsWith('/ui/build.ts') || k.includes('/node_modules/preact/') || k.includes('/node_modules/@dagrejs/'))
      const f = fixture()
      await f.app.handle(new Request('http://localhost/health'))
      const before = loaded()
      await (await f.app.handle(new Request('http://localhost/ui/'))).text()
      console.log(JSON.stringify({ before, after: loaded().filter((k) => k.endsWith('/ui/build.ts')).length }))
    `
    const p = Bun.spawn(['bun', '-e', script], { cwd: join(import.meta.dir, '../..'), stdout: 'pipe', stderr: 'pipe' })
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
    expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' })
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ before: [], after: 1 })
  }, 30_000)
})
