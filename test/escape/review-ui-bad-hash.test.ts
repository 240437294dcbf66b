/**
 * Hostile review of the web UI: a link whose hash route holds a malformed percent-escape
 * (`/ui/#/workflows/%E0%A4%A`). The router decoded each segment with decodeURIComponent, which throws URIError, at
 * module start: the UI never started (a blank page, not even the login form) for anyone who followed such a link,
 * and a later `hashchange` to one threw in the listener. A bad route must fall back to a page, not to nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { existsSync } from 'node:fs'
import { CHROMIUM, startRig, type UiRig } from './review-ui-harness.ts'

describe.skipIf(!existsSync(CHROMIUM))('review-ui: a malformed percent-escape in the hash route', () => {
  let rig: UiRig
  beforeAll(async () => { rig = await startRig({ ok: 'id: ok\ntasks:\n  - id: a\n    type: core/log.info\n    inputs: { message: hi }\n' }) }, 60_000)
  afterAll(async () => { await rig?.close() })

  it('opening such a link still starts the UI, and a later hash change to one is survived', async () => {
    const { page, errors } = await rig.browser()
    await page.goto(`${rig.origin}/ui/#/workflows/%E0%A4%A`)
    await page.reload()
    await page.waitForSelector('header.top', { timeout: 10_000 })
    await page.evaluate("location.hash = '#/workflows'")
    await page.waitForSelector('tr[data-workflow=ok]', { timeout: 10_000 })
    await page.evaluate("location.hash = '#/executions/%zz'")
    await page.evaluate("location.hash = '#/workflows/ok'")
    await page.waitForSelector('[data-testid=workflow-detail]', { timeout: 10_000 })
    expect(errors).toEqual([])
  }, 60_000)
})
