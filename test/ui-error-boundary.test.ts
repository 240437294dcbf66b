/**
 * The UI's error boundary (ui/src/components/Boundary.tsx) in Debian's Chromium via playwright-core: a tiny page
 * (test/fixtures/ui-boundary/page.tsx, bundled here with the UI's tsconfig) puts the real Boundary around a child
 * that throws on `#/boom`. A render error shows the error box with the message as text and a reload link, the nav
 * outside keeps working, and a route change clears it. Under CI=true a missing Chromium fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM, requireChromiumUnderCi } from './helpers/chromium.ts'
import { root } from './server-helpers.ts'

requireChromiumUnderCi()

describe.skipIf(!HAVE_CHROMIUM)('UI error boundary in Chromium', () => {
  let server: ReturnType<typeof Bun.serve>
  let browser: Browser
  let page: Page
  let profile: string
  const pageErrors: string[] = []

  beforeAll(async () => {
    const built = await Bun.build({
      entrypoints: [join(root, 'test', 'fixtures', 'ui-boundary', 'page.tsx')],
      target: 'browser',
      define: { 'process.env.NODE_ENV': '"production"' },
      tsconfig: join(root, 'ui', 'tsconfig.json'),
    })
    if (!built.success) throw new Error(built.logs.map(String).join('\n'))
    const js = await built.outputs[0]!.text()
    const html = '<!doctype html><html><body><div id="app"></div><script src="/page.js"></script></body></html>'
    server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: (req) => new URL(req.url).pathname === '/page.js'
        ? new Response(js, { headers: { 'content-type': 'text/javascript' } })
        : new Response(html, { headers: { 'content-type': 'text/html' } }),
    })
    profile = mkdtempSync(join(tmpdir(), 'ak-boundary-'))
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    })
    page = await browser.newPage()
    page.on('pageerror', (e) => pageErrors.push(e.message))
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    server?.stop(true)
    rmSync(profile, { recursive: true, force: true })
  })

  it('a render error shows the message as text and a reload link; the nav works; a route change clears it', async () => {
    await page.goto(`http://127.0.0.1:${server.port}/#/ok`)
    await page.getByTestId('content').waitFor()
    expect(await page.getByTestId('content').textContent()).toBe('page #/ok')

    await page.click('nav a[href="#/boom"]')
    const box = page.getByTestId('render-error')
    await box.waitFor()
    expect(await box.textContent()).toContain('cannot read <b>tasks</b> of undefined') // as text, not markup
    expect(await box.locator('b').count()).toBe(0)
    expect(await box.getByRole('link', { name: 'reload' }).count()).toBe(1)
    expect(await page.getByTestId('content').count()).toBe(0)

    await page.click('nav a[href="#/other"]') // the nav outside the boundary still works, and the route resets it
    await page.getByTestId('content').waitFor()
    expect(await page.getByTestId('content').textContent()).toBe('page #/other')
    expect(await page.getByTestId('render-error').count()).toBe(0)

    await page.click('nav a[href="#/boom"]') // and it catches again after a reset
    await box.waitFor()
    await box.getByRole('link', { name: 'reload' }).click() // reload: the page loads again, on the same route
    await page.waitForLoadState('load')
    await box.waitFor()
    expect(pageErrors).toEqual([])
  }, 60_000)
})
