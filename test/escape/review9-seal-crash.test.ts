/**
 * Review 9, finding 3 (medium): a refusal an earlier warm invocation left behind is inert as a marker (unsealed),
 * but when it is thrown uncaught it ends the process during the later invocation, and Bun's report of the uncaught
 * PermissionDeniedError ("permission denied: filesystem.read /etc/shadow not granted") is on that invocation's
 * stderr: the crash makes the inference from text run, and the later task fails PERMISSION_DENIED (inferred), with
 * a refusal audited against it that its own code never met. The claim (docs/security.md#denials-sealed-or-inferred-
 * review-7): such a refusal is "a log line of that invocation, which neither fails it nor is audited against it".
 * The later task may fail (its process died under it: PLUGIN_CRASHED), but not as refused. Real engine, real warm
 * processes.
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

describe.skipIf(!warm)('an uncaught refusal an earlier invocation left behind is not the later invocation\'s', () => {
  for (const level of ['execution', 'workflow'] as const) {
    it(`isolation: ${level} — the later task is not PERMISSION_DENIED and nothing is audited against it`, async () => {
      const yaml = level === 'execution' ? `
id: r9-warm-crash-exec
isolation: execution
tasks:
  - { id: first, type: review9/late.step, inputs: { via: crash } }
  - { id: second, type: review9/late.step, inputs: { via: crash }, needs: [first] }
` : `
id: r9-warm-crash-wf
isolation: workflow
tasks:
  - { id: second, type: review9/late.step, inputs: { via: crash } }
`
      const a = await runWorkflow(t, yaml)
      const r = level === 'execution' ? a : await runWorkflow(t, yaml)
      const refused = [a, ...(r === a ? [] : [r])].flatMap((x) => x.audit.filter((e) => e.type === 'PERMISSION_DENIED'))
        .map((e) => ({ task: e.taskId, ...(e.data as object) }))
      const second = r.runs.second!
      // The control: the earlier invocation left its timer and succeeded; the later one's process died under it.
      expect(level === 'execution' ? r.runs.first!.state : a.runs.second!.state).toBe('SUCCESS')
      expect(second.state).toBe('FAILED')
      expect({ code: second.error?.code, refused }).toEqual({ code: 'PLUGIN_CRASHED', refused: [] })
    }, 60_000)
  }
})
