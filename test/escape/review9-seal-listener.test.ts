/**
 * Review 9, finding 6: the warm seal follows the async context, and an EventEmitter or EventTarget calls a listener
 * in the context of whoever emits. An invocation that leaves a listener on a module-level EventEmitter,
 * AbortController or EventTarget (a cache's "refresh", a "cancel what the last one left running") had its refusal
 * sealed with the seal of the later invocation that emits, aborts or dispatches: that later task failed
 * PERMISSION_DENIED, audited against it, for a connect the earlier invocation set up. A warm process now runs each
 * listener in the context it was registered in (sandbox/sdk/listener-context.ts), so the refusal carries the earlier
 * invocation's withdrawn seal: a plain log line of the later one (docs/security.md#denials-sealed-or-inferred-review-7).
 * Real engine, real warm processes, both warm levels.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { resolve } from 'node:path'
import { nativeLauncher } from '../../sandbox/process/build-launcher.ts'
import { LAUNCHER_ENV } from '../../sandbox/process/isolation.ts'
import { startTestEngine, TEST_PLUGINS, type TestEngine, runWorkflow } from '../helpers/engine.ts'

// Warm processes exist only with the native launcher (review8-warm-seal.test.ts says why).
const warm = process.env[LAUNCHER_ENV] !== 'bun' && nativeLauncher() !== undefined
const REVIEW9 = resolve(import.meta.dir, '../fixtures/plugins/review9')
let t: TestEngine
beforeAll(async () => { t = await startTestEngine({ WORKFLOW_PLUGINS_PATHS: [TEST_PLUGINS, REVIEW9].join(',') }) })
afterAll(async () => { await t.close() })

type Ran = Awaited<ReturnType<typeof runWorkflow>>
const refused = (...rs: Ran[]) => rs.flatMap((r) => r.audit.filter((a) => a.type === 'PERMISSION_DENIED').map((a) => ({ task: a.taskId, ...(a.data as object) })))
const outcome = (r: Ran, task: string) => ({ state: r.runs[task]!.state, code: r.runs[task]!.error?.code })
const out = (r: Ran, task: string) => r.runs[task]!.output as { pid: number; late?: string }

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
      expect({ first: outcome(r, 'first'), second: outcome(r, 'second'), refused: refused(r) })
        .toEqual({ first: { state: 'SUCCESS', code: undefined }, second: { state: 'SUCCESS', code: undefined }, refused: [] })
      // The control: one process, and the refused connect happened while the second ran (a plain line of its log).
      expect(out(r, 'second').pid).toBe(out(r, 'first').pid)
      expect(out(r, 'second').late).toBe('PERMISSION_DENIED')
      expect(r.logs.some((l) => l.taskId === 'second' && l.message.includes('PERMISSION_DENIED network 192.0.2.1:9'))).toBe(true)
    }, 60_000)

    it('isolation: workflow — the next execution\'s task, in the same pooled process, succeeds', async () => {
      const yaml = `
id: r9-warm-listener-wf-${via}
isolation: workflow
tasks:
  - { id: step, type: review9/late.step, inputs: { via: ${via} } }
`
      const a = await runWorkflow(t, yaml)
      const b = await runWorkflow(t, yaml)
      expect({ a: a.done.state, b: b.done.state, step: outcome(b, 'step'), refused: refused(a, b) })
        .toEqual({ a: 'SUCCESS', b: 'SUCCESS', step: { state: 'SUCCESS', code: undefined }, refused: [] })
      expect(out(b, 'step').pid).toBe(out(a, 'step').pid)
      expect(out(b, 'step').late).toBe('PERMISSION_DENIED')
    }, 60_000)
  })
}
