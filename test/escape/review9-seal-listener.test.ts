/**
 * Review 9, finding 2 (low): the warm seal follows the async context, and a listener runs in the context of whoever
 * emits. An invocation that leaves a listener on a module-level EventEmitter, AbortController or EventTarget (a
 * cache's "refresh", a "cancel what the last one left running") has its refusal sealed with the seal of the later
 * invocation that emits, aborts or dispatches: that later task fails PERMISSION_DENIED, audited against it, for a
 * connect the earlier invocation's input set up — what review 8's timer and promise cases no longer do
 * (docs/security.md#denials-sealed-or-inferred-review-7: "a refusal carries the seal of the invocation that caused
 * it"). Real engine, real warm processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { resolve } from 'node:path'
import { nativeLauncher } from '../../sandbox/process/build-launcher.ts'
import { LAUNCHER_ENV } from '../../sandbox/process/isolation.ts'
import { startTestEngine, TEST_PLUGINS, type TestEngine, runWorkflow } from '../helpers/engine.ts'

const warm = process.env[LAUNCHER_ENV] !== 'bun' && nativeLauncher() !== undefined
const REVIEW9 = resolve(import.meta.dir, '../fixtures/plugins/review9')
let t: TestEngine
beforeAll(async () => { t = await startTestEngine({ WORKFLOW_PLUGINS_PATHS: [TEST_PLUGINS, REVIEW9].join(',') }) })
afterAll(async () => { await t.close() })

for (const via of ['emitter', 'abort', 'target'] as const) {
  describe.skipIf(!warm)(`a listener an earlier invocation left (${via}) is not the later invocation's refusal`, () => {
    it('isolation: execution — the second task, which set it off, succeeds and nothing is audited as refused', async () => {
      const r = await runWorkflow(t, `
id: r9-warm-listener-${via}
isolation: execution
tasks:
  - { id: first, type: review9/late.step, inputs: { via: ${via} } }
  - { id: second, type: review9/late.step, inputs: { via: ${via} }, needs: [first] }
`)
      const refused = r.audit.filter((a) => a.type === 'PERMISSION_DENIED').map((a) => ({ task: a.taskId, ...(a.data as object) }))
      expect({ first: r.runs.first!.state, second: r.runs.second!.state, code: r.runs.second!.error?.code, refused })
        .toEqual({ first: 'SUCCESS', second: 'SUCCESS', code: undefined, refused: [] })
      // The control: one process, and the refused connect happened.
      const out = (id: string) => r.runs[id]!.output as { pid: number; late?: string }
      expect(out('second').pid).toBe(out('first').pid)
      expect(out('second').late).toBe('PERMISSION_DENIED')
    }, 60_000)
  })
}
