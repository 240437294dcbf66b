/**
 * Hostile review of the web UI: a workflow whose tasks each need every earlier one. 100 tasks and 4,950 `needs`
 * edges are a ~25 KB document, far inside the upload limits, but dagre lays out each edge spanning k ranks as k-1
 * dummy nodes (~166,000 here): over a minute of the page's main thread. The workflow page and every execution page
 * of such a workflow froze the tab before showing anything (no cancel, no approve from the UI). The graph must give
 * way to a notice when its layout would be that large; the rest of the page must show at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { existsSync } from 'node:fs'
import { CHROMIUM, startRig, type UiRig } from './review-ui-harness.ts'

const N = 100
const ids = Array.from({ length: N }, (_, i) => `t${i}`)
const DENSE = `id: dense\ntasks:\n${ids.map((id, i) => `  - id: ${id}\n    type: core/log.info\n    inputs: { message: "${id}" }\n${i > 0 ? `    needs: [${ids.slice(0, i).join(', ')}]\n` : ''}`).join('')}`
// What must still be drawn: a 1,000-task chain and a 1,000-task fan-out (each a few hundred ms of layout).
const CHAIN = `id: chain\ntasks:\n${Array.from({ length: 1000 }, (_, i) => `  - id: c${i}\n    type: core/log.info\n    inputs: { message: x }\n${i > 0 ? `    needs: [c${i - 1}]\n` : ''}`).join('')}`

describe.skipIf(!existsSync(CHROMIUM))('review-ui: a densely connected workflow graph', () => {
  let rig: UiRig
  beforeAll(async () => { rig = await startRig({ dense: DENSE, chain: CHAIN }) }, 60_000)
  afterAll(async () => { await rig?.close() })

  it('the workflow page shows its source and a notice instead of freezing on the layout', async () => {
    expect(DENSE.length).toBeLessThan(64 * 1024)
    const { page, errors } = await rig.browser()
    await page.goto(`${rig.origin}/ui/#/workflows/dense`)
    await page.waitForSelector('[data-testid=workflow-detail] [data-testid=source]', { timeout: 10_000 })
    expect(await page.locator('[data-testid=workflow-detail] svg.dag').count()).toBe(0)
    expect(await page.locator('[data-testid=workflow-detail] [data-testid=dag-too-large]').count()).toBe(1)
    expect(errors).toEqual([])
  }, 60_000)

  it('an execution page of it shows the task table at once', async () => {
    const id: string = (await rig.api('POST', '/api/v1/workflows/dense/executions', { inputs: {} })).id
    const { page, errors } = await rig.browser()
    await page.goto(`${rig.origin}/ui/#/executions/${id}`)
    await page.waitForSelector('[data-testid=execution-detail] [data-testid=tasks] tr[data-task=t0]', { timeout: 10_000 })
    await rig.api('POST', `/api/v1/executions/${id}/cancel`, {}).catch(() => {})
    expect(errors).toEqual([])
  }, 60_000)

  it('a 1,000-task chain is still drawn', async () => {
    const { page, errors } = await rig.browser()
    await page.goto(`${rig.origin}/ui/#/workflows/chain`)
    await page.waitForSelector('[data-testid=workflow-detail] svg.dag g.node[data-task=c999]', { timeout: 20_000 })
    expect(errors).toEqual([])
  }, 60_000)
})
