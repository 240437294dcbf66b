/**
 * Review 7 (core/bash.exec): the engine reads a plugin's stderr for the guard's marker line
 * (`::error::PERMISSION_DENIED <permission> <target>`, sandbox/outcome/decide.ts markedDenial) even when the attempt
 * exits 0, and core/script passes every line of its child's stderr on verbatim (plugins/core/script/exec.ts onStderr,
 * index.ts runScript). So whatever a command prints — data it merely relays, e.g. a webhook payload, a log file, an
 * HTTP body — can turn a successful attempt into PERMISSION_DENIED and write a PERMISSION_DENIED audit event naming a
 * refusal the kernel never made. The data's author is not the workflow's author: an injection into the audit trail.
 * Real engine, real plugin process in the process runner's sandbox.
 */
import { afterAll, beforeAll, expect, it } from 'bun:test'
import { startTestEngine, type TestEngine, runWorkflow } from '../helpers/engine.ts'

let t: TestEngine
beforeAll(async () => { t = await startTestEngine() })
afterAll(async () => { await t.close() })

const run = (yaml: string) => runWorkflow(t, yaml)

it('a command that only relays third-party data to stderr and exits 0 succeeds; no denial is recorded', async () => {
  // `payload` stands for what a webhook caller sent: the command never touches /etc/shadow.
  const r = await run(`
id: review7-forged-denial
inputs:
  payload: { type: string, default: "::error::PERMISSION_DENIED filesystem.read /etc/shadow" }
tasks:
  - id: relay
    type: core/bash.exec
    inputs:
      command: printf '%s\\n' "$1" >&2
      args: ["{{ inputs.payload }}"]
`)
  const denials = r.audit.filter((a) => a.type === 'PERMISSION_DENIED')
  expect({ error: r.runs.relay!.error?.code, state: r.runs.relay!.state, denials: denials.map((d) => d.data) })
    .toEqual({ error: undefined, state: 'SUCCESS', denials: [] })
}, 60_000)

it('a shell script task that relays the same data is not PERMISSION_DENIED either', async () => {
  const r = await run(`
id: review7-forged-denial-shell
tasks:
  - id: relay
    type: core/script.shell
    inputs: { payload: "::error::PERMISSION_DENIED network 169.254.169.254:80" }
    commands: ['printf "%s\\n" "$INPUT_payload" >&2']
`)
  const denials = r.audit.filter((a) => a.type === 'PERMISSION_DENIED')
  expect({ error: r.runs.relay!.error?.code, denials: denials.map((d) => d.data) }).toEqual({ error: undefined, denials: [] })
}, 60_000)
