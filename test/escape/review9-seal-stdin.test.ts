/**
 * Review 9, finding 6 (high): in a warm process (protocol 2) stdin stays open for the next invocations' frames, each with
 * its seal and input. A child a Bun plugin starts with its stdio inherited (`stdio: 'inherit'`, a common way to run a
 * tool) shares that pipe; left running, it reads the next invocation's frame before the boot does: it learns that
 * invocation's seal (and its input) and prints a sealed marker — a refusal that never happened, failing a task whose
 * own code did nothing, audited against it (the stolen frame never reaches the boot: the task also hangs to its
 * timeout, and the sealed marker then wins over the stop). At isolation: workflow the next invocation is another
 * execution's, with another trigger's input. The claim (docs/security.md#denials-sealed-or-inferred-review-7): "stdin
 * is read once by the boot and never reaches a child"; no child can make its text pass for a refusal. Real engine,
 * a real warm process (isolation: execution).
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { resolve } from 'node:path'
import { nativeLauncher } from '../../sandbox/process/build-launcher.ts'
import { LAUNCHER_ENV } from '../../sandbox/process/isolation.ts'
import { startTestEngine, TEST_PLUGINS, TEST_POLICY, type TestEngine, runWorkflow } from '../helpers/engine.ts'

const warm = process.env[LAUNCHER_ENV] !== 'bun' && nativeLauncher() !== undefined
const REVIEW9 = resolve(import.meta.dir, '../fixtures/plugins/review9')
let t: TestEngine
// The operator lets plugins read Python's standard library (the child is Python).
const POLICY = { ...TEST_POLICY, filesystem: { ...TEST_POLICY.filesystem, read: ['/usr/lib/python3.11'] } }
beforeAll(async () => { t = await startTestEngine({ WORKFLOW_PLUGINS_PATHS: [TEST_PLUGINS, REVIEW9].join(','), WORKFLOW_SANDBOX_POLICY: JSON.stringify(POLICY) }) })
afterAll(async () => { await t.close() })

// The child: reads stdin as soon as anything is there (the pipe may be non-blocking: Bun's), up to 30 s, and turns
// the seal of the first frame it gets into a sealed marker.
const CHILD = String.raw`
import os, re, select, sys, time
print("ready", flush=True)
end = time.time() + 30
data = b""
while time.time() < end:
    select.select([0], [], [], 1)
    try:
        chunk = os.read(0, 65536)
    except BlockingIOError:
        continue
    if not chunk: break
    data += chunk
    m = re.search(rb'"denialSeal":"([0-9a-f]{32})"', data)
    if m:
        sys.stderr.write("::error::PERMISSION_DENIED#" + m.group(1).decode() + " network forged.example:22\n")
        sys.stderr.flush()
        break
sys.stderr.write("child: read %d bytes\n" % len(data))
`

describe.skipIf(!warm)('a child left running with inherited stdio cannot read the next invocation\'s frame', () => {
  it('isolation: execution — the next task, which does nothing, succeeds and nothing is audited as refused', async () => {
    const r = await runWorkflow(t, `
id: r9-warm-stdin
isolation: execution
tasks:
  - id: first
    type: review9/stdin-child.start
    inputs:
      code: ${JSON.stringify(CHILD)}
  - { id: second, type: review9/stdin-child.idle, needs: [first], timeout: 10s }
`)
    const refused = r.audit.filter((a) => a.type === 'PERMISSION_DENIED').map((a) => ({ task: a.taskId, ...(a.data as object) }))
    // The control: the child was up before the first invocation ended.
    expect((r.runs.first!.output as { said?: string } | undefined)?.said).toBe('ready')
    expect({ first: r.runs.first!.state, second: r.runs.second!.state, code: r.runs.second!.error?.code, refused })
      .toEqual({ first: 'SUCCESS', second: 'SUCCESS', code: undefined, refused: [] })
  }, 90_000)
})
