/**
 * Hostile review of the web UI: a task id that is the name of an Object.prototype member. ID_PATTERN admits
 * `constructor` (lowercase letters), and the engine runs such a workflow fine; the UI kept task ids as keys of plain
 * objects (dagre's graph, the live-state map), so `constructor` collided with Object.prototype.constructor: the
 * graph layout threw (the whole page blank: no cancel, no approve) and the task's state read as a function (an
 * approval named `constructor` never offered its buttons). A workflow author could so hide an execution from the UI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { existsSync } from 'node:fs'
import { waitUntil } from '../server-helpers.ts'
import { CHROMIUM, startRig, type UiRig } from './review-ui-harness.ts'

const WORKFLOWS = {
  protos: 'id: protos\ntasks:\n  - id: constructor\n    type: core/log.info\n    inputs: { message: hi }\n  - id: after\n    needs: [constructor]\n    type: core/log.info\n    inputs: { message: done }\n',
  protogate: 'id: protogate\ntasks:\n  - id: constructor\n    approval: { message: Go on? }\n',
}

describe.skipIf(!existsSync(CHROMIUM))('review-ui: a task named after an Object.prototype member', () => {
  let rig: UiRig
  beforeAll(async () => { rig = await startRig(WORKFLOWS) }, 60_000)
  afterAll(async () => { await rig?.close() })

  it('the workflow page draws its graph (node `constructor`) without a page error', async () => {
    const { page, errors } = await rig.browser()
    await page.goto(`${rig.origin}/ui/#/workflows/protos`)
    await page.waitForSelector('[data-testid=workflow-detail] svg.dag g.node[data-task=constructor]', { timeout: 15_000 })
    expect(await page.locator('svg.dag g.node').count()).toBe(2)
    expect(errors).toEqual([])
  }, 60_000)

  it('the execution page shows `constructor` SUCCESS in the graph and the table', async () => {
    const id: string = (await rig.api('POST', '/api/v1/workflows/protos/executions', { inputs: {} })).id
    await waitUntil('the execution to succeed', async () => (await rig.api('GET', `/api/v1/executions/${id}`)).state === 'SUCCESS', 45_000)
    const { page, errors } = await rig.browser()
    await page.goto(`${rig.origin}/ui/#/executions/${id}`)
    await page.waitForSelector('[data-testid=execution-detail][data-state=SUCCESS]', { timeout: 15_000 })
    expect(await page.locator('svg.dag g.node[data-task=constructor]').getAttribute('data-state')).toBe('SUCCESS')
    expect(await page.locator('[data-testid=tasks] tr[data-task=constructor] .badge').textContent()).toBe('SUCCESS')
    expect(errors).toEqual([])
  }, 60_000)

  it('an approval named `constructor` offers Approve, and approving it finishes the execution', async () => {
    const id: string = (await rig.api('POST', '/api/v1/workflows/protogate/executions', { inputs: {} })).id
    await waitUntil('the gate to wait', async () => (await rig.api('GET', `/api/v1/executions/${id}`)).state === 'WAITING', 45_000)
    const { page, errors } = await rig.browser()
    await page.goto(`${rig.origin}/ui/#/executions/${id}`)
    await page.waitForSelector('[data-approval=constructor] button:text("Approve")', { timeout: 15_000 })
    await page.click('[data-approval=constructor] button:text("Approve")')
    await waitUntil('the execution to succeed', async () => (await rig.api('GET', `/api/v1/executions/${id}`)).state === 'SUCCESS', 45_000)
    expect(errors).toEqual([])
  }, 90_000)
})
