/**
 * Hostile review of the web UI: a page on another origin that opens the UI with window.open keeps a handle on the
 * UI's window. Without Cross-Origin-Opener-Policy the handle stays live after the user logs in there, and the
 * attacker can re-point the UI's hash route at will (`w.location = '…/ui/#/secrets'`: a same-document navigation,
 * no reload) — switching the page under the user's cursor just before a click (Cancel on another execution, Delete
 * on a secret). `Cross-Origin-Opener-Policy: same-origin` puts the UI in its own browsing context group: the
 * opener's handle reads as closed and cannot navigate it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { existsSync } from 'node:fs'
import { CHROMIUM, KEY, startRig, type UiRig } from './review-ui-harness.ts'

describe.skipIf(!existsSync(CHROMIUM))('review-ui: a cross-origin opener of the UI', () => {
  let rig: UiRig
  let evil: ReturnType<typeof Bun.serve>
  beforeAll(async () => {
    rig = await startRig({ ok: 'id: ok\ntasks:\n  - id: a\n    type: core/log.info\n    inputs: { message: hi }\n' })
    // The attacker's origin: another port on this host.
    evil = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('<!doctype html><title>evil</title><p>evil</p>', { headers: { 'content-type': 'text/html' } }) })
  }, 60_000)
  afterAll(async () => {
    await evil?.stop(true)
    await rig?.close()
  })

  it('loses its handle on the UI window: it cannot re-point the UI\'s route', async () => {
    const { ctx, page } = await rig.browser()
    await page.goto(`http://127.0.0.1:${evil.port}/`)
    const popupP = ctx.waitForEvent('page')
    await page.evaluate(`window.w = window.open(${JSON.stringify(`${rig.origin}/ui/#/workflows`)}, 'ui')`)
    const popup = await popupP
    await popup.waitForLoadState('domcontentloaded')
    // The user logs in in that window.
    await popup.evaluate(`sessionStorage.setItem('autokestra.apiKey', ${JSON.stringify(KEY)})`)
    await popup.reload()
    await popup.waitForSelector('tr[data-workflow=ok]', { timeout: 10_000 })
    // Same browsing context group, this would be false and `w.location = '…/ui/#/secrets'` would switch the page.
    expect(await page.evaluate('window.w.closed')).toBe(true)
    expect(await popup.evaluate('window.opener === null')).toBe(true)
  }, 60_000)
})
