/**
 * Review 11, finding "an onabort handler escapes the listener binding": listener-context.ts (review 9) binds what is
 * registered through EventEmitter's methods and EventTarget.prototype.addEventListener, but an event-handler
 * attribute — `signal.onabort = fn`, and likewise a MessagePort's, a WebSocket's or a Worker's `onmessage` — is
 * registered natively, past the patch: it runs in the context of whoever aborts. An invocation that leaves
 * `onabort` on a module-level AbortController has its refusal sealed with the seal of the later invocation that
 * aborts: that later task fails PERMISSION_DENIED, audited against it, for a connect the earlier one set up (review 9's
 * `abort` case, set with the attribute instead). Measured in a plain process: `onabort` and `AbortSignal.any(...)
 * .onabort` ran in the aborter's context, addEventListener's in the registrant's.
 *
 * Fixed (listener-context.ts patchHandlerAttributes): the `on…` setters of AbortSignal, MessagePort, WebSocket, Worker
 * and BroadcastChannel bind the handler to the setter's context; the getter gives back the original.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { resolve } from 'node:path'
import { nativeLauncher } from '../../sandbox/process/build-launcher.ts'
import { LAUNCHER_ENV } from '../../sandbox/process/isolation.ts'
import { startTestEngine, TEST_PLUGINS, type TestEngine, runWorkflow } from '../helpers/engine.ts'

const warm = process.env[LAUNCHER_ENV] !== 'bun' && nativeLauncher() !== undefined
const REVIEW11 = resolve(import.meta.dir, '../fixtures/plugins/review11')
let t: TestEngine
beforeAll(async () => { t = await startTestEngine({ WORKFLOW_PLUGINS_PATHS: [TEST_PLUGINS, REVIEW11].join(',') }) })
afterAll(async () => { await t.close() })

type Ran = Awaited<ReturnType<typeof runWorkflow>>
const refused = (r: Ran) => r.audit.filter((a) => a.type === 'PERMISSION_DENIED').map((a) => ({ task: a.taskId, ...(a.data as object) }))
const outcome = (r: Ran, task: string) => ({ state: r.runs[task]!.state, code: r.runs[task]!.error?.code })
const out = (r: Ran, task: string) => r.runs[task]!.output as { pid: number; late?: string }

describe.skipIf(!warm)('an onabort handler an earlier invocation left is not the later invocation\'s refusal', () => {
  it('isolation: execution — the second task, which aborted, succeeds and nothing is audited as refused', async () => {
    const r = await runWorkflow(t, `
id: r11-warm-onabort
isolation: execution
tasks:
  - { id: first, type: review11/late.step }
  - { id: second, type: review11/late.step, needs: [first] }
`)
    expect({ first: outcome(r, 'first'), second: outcome(r, 'second'), refused: refused(r) })
      .toEqual({ first: { state: 'SUCCESS', code: undefined }, second: { state: 'SUCCESS', code: undefined }, refused: [] })
    expect(out(r, 'second').pid).toBe(out(r, 'first').pid)
    expect(out(r, 'second').late).toBe('PERMISSION_DENIED')
  }, 60_000)
})
