/**
 * Review 8 (warm seal): at `isolation: execution` or `workflow` one process serves several invocations, and each
 * gets a fresh denial seal. Before the fix the guard's marker took the seal of whichever invocation was running when
 * a refusal fired, so work an earlier invocation left behind (a timer, a pending promise) that tried a refused
 * connect during a later one failed that later task PERMISSION_DENIED and was audited against it. Now the marker
 * takes the seal of the invocation whose code caused the refusal (its async context); once that invocation has
 * ended the marker is an inert log line. Real engine, real warm plugin processes (docs/security.md#denials).
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { resolve } from 'node:path'
import { nativeLauncher } from '../../sandbox/process/build-launcher.ts'
import { LAUNCHER_ENV } from '../../sandbox/process/isolation.ts'
import { startTestEngine, TEST_PLUGINS, type TestEngine, runWorkflow } from '../helpers/engine.ts'

// Warm processes exist only with the native launcher (the Bun launcher passes no result channel: every attempt is
// fresh whatever the level, docs/security.md#warm-processes-what-a-reused-process-can-observe); there is no later
// invocation to mislabel under it, so the suite has nothing to run.
const warm = process.env[LAUNCHER_ENV] !== 'bun' && nativeLauncher() !== undefined

const REVIEW8 = resolve(import.meta.dir, '../fixtures/plugins/review8')
let t: TestEngine
beforeAll(async () => { t = await startTestEngine({ WORKFLOW_PLUGINS_PATHS: [TEST_PLUGINS, REVIEW8].join(',') }) })
afterAll(async () => { await t.close() })

type Ran = Awaited<ReturnType<typeof runWorkflow>>
const run = (yaml: string) => runWorkflow(t, yaml)
const refusals = (...rs: Ran[]) => rs.flatMap((r) => r.audit.filter((a) => a.type === 'PERMISSION_DENIED'))
const outcome = (r: Ran, task: string) => ({ state: r.runs[task]!.state, code: r.runs[task]!.error?.code })
const out = (r: Ran, task: string) => r.runs[task]!.output as { pid: number; late?: string; own?: string }

for (const via of ['timer', 'promise'] as const) {
  describe.skipIf(!warm)(`work an earlier invocation left behind (a ${via}) is not the later invocation's refusal`, () => {
    it('isolation: execution — the second task of the execution, in the same process, succeeds', async () => {
      const r = await run(`
id: r8-warm-exec-${via}
isolation: execution
tasks:
  - { id: first, type: review8/late.step, inputs: { via: ${via} } }
  - { id: second, type: review8/late.step, inputs: { via: ${via} }, needs: [first] }
`)
      expect({ first: outcome(r, 'first'), second: outcome(r, 'second'), refusals: refusals(r) })
        .toEqual({ first: { state: 'SUCCESS', code: undefined }, second: { state: 'SUCCESS', code: undefined }, refusals: [] })
      // The control: one process served both, and the refused connect happened while the second one ran (its
      // marker is logged there, as a plain line).
      expect(out(r, 'second').pid).toBe(out(r, 'first').pid)
      expect(out(r, 'second').late).toBe('PERMISSION_DENIED')
      expect(r.logs.some((l) => l.taskId === 'second' && l.message.includes('PERMISSION_DENIED network 192.0.2.1:9'))).toBe(true)
    }, 60_000)

    it('isolation: workflow — the next execution\'s task, in the same pooled process, succeeds', async () => {
      const yaml = `
id: r8-warm-wf-${via}
isolation: workflow
tasks:
  - { id: step, type: review8/late.step, inputs: { via: ${via} } }
`
      const a = await run(yaml)
      const b = await run(yaml)
      expect({ a: a.done.state, b: b.done.state, step: outcome(b, 'step'), refusals: refusals(a, b) })
        .toEqual({ a: 'SUCCESS', b: 'SUCCESS', step: { state: 'SUCCESS', code: undefined }, refusals: [] })
      expect(out(b, 'step').pid).toBe(out(a, 'step').pid)
      expect(out(b, 'step').late).toBe('PERMISSION_DENIED')
    }, 60_000)
  })
}

describe('a warm invocation\'s own refusal still counts', () => {
  for (const level of ['execution', 'workflow'] as const) {
    it(`isolation: ${level} — a swallowed refusal of the running invocation fails it, audited against it`, async () => {
      const r = await run(`
id: r8-warm-own-${level}
isolation: ${level}
tasks:
  - { id: first, type: review8/late.step, inputs: { via: timer } }
  - { id: own, type: review8/late.own, needs: [first] }
`)
      expect(r.runs.own!.error?.code).toBe('PERMISSION_DENIED')
      expect(r.runs.own!.error?.details).toMatchObject({ permission: 'network', target: '192.0.2.1:9' })
      expect(refusals(r).map((a) => a.taskId)).toEqual(['own'])
    }, 60_000)
  }
})
