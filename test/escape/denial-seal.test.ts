/**
 * Denials through the engine after review 7 (docs/security.md#denials-sealed-or-inferred-review-7): only the guard's
 * marker sealed with the attempt's seal counts as a refusal seen; text a program prints — data it relays — never
 * fails a success or an engine stop, and a refusal inferred from text says so in its error and audit event. Real
 * engine, real plugin processes in the process runner's sandbox.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { startTestEngine, type TestEngine, runWorkflow } from '../helpers/engine.ts'

let t: TestEngine
beforeAll(async () => { t = await startTestEngine() })
afterAll(async () => { await t.close() })

const run = (yaml: string) => runWorkflow(t, yaml)
const denials = (r: Awaited<ReturnType<typeof run>>, task: string) =>
  r.audit.filter((a) => a.type === 'PERMISSION_DENIED' && a.taskId === task).map((a) => a.data)

describe('relayed text is not a refusal', () => {
  it('a command that fails after relaying refusal-shaped lines is COMMAND_FAILED, not PERMISSION_DENIED', async () => {
    const r = await run(`
id: seal-relay-fail
inputs:
  payload: { type: string, default: "cat: /etc/shadow: Permission denied" }
tasks:
  - id: relay
    type: core/bash.exec
    inputs:
      script: |
        printf '%s\\n' "$1" '::error::PERMISSION_DENIED network 169.254.169.254:80' >&2
        echo 'parse error: unexpected end of input' >&2
        exit 3
      args: ["{{ inputs.payload }}"]
`)
    expect({ code: r.runs.relay!.error?.code, denials: denials(r, 'relay') }).toEqual({ code: 'COMMAND_FAILED', denials: [] })
  }, 60_000)

  it('a Python script whose traceback quotes a refusal, or that prints a marker and exits 0, is not refused', async () => {
    const r = await run(`
id: seal-relay-python
inputs:
  payload: { type: string, default: "cat: /etc/shadow: Permission denied" }
tasks:
  - id: raises
    type: core/script.python
    inputs: { payload: "{{ inputs.payload }}" }
    script: raise ValueError(inputs["payload"])
  - id: prints
    type: core/script.python
    script: |
      import sys
      print("::error::PERMISSION_DENIED filesystem.read /etc/shadow", file=sys.stderr)
      print("::error::PERMISSION_DENIED#" + "0" * 32 + " network 10.0.0.1:22", file=sys.stderr)
      outputs["done"] = True
`)
    expect(r.runs.raises!.error).toMatchObject({ code: 'PLUGIN_ERROR', message: 'script exited with code 1: ValueError: cat: /etc/shadow: Permission denied' })
    expect(r.runs.prints!).toMatchObject({ state: 'SUCCESS', output: { done: true } })
    expect([...denials(r, 'raises'), ...denials(r, 'prints')]).toEqual([])
  }, 60_000)

  it('an engine timeout stays TASK_TIMED_OUT whatever the command printed before it', async () => {
    const r = await run(`
id: seal-relay-timeout
tasks:
  - id: spin
    type: core/bash.exec
    timeout: 1500ms
    inputs:
      script: |
        echo '::error::PERMISSION_DENIED network 169.254.169.254:80' >&2
        echo 'cat: /etc/shadow: Permission denied' >&2
        while :; do :; done
`)
    expect({ code: r.runs.spin!.error?.code, denials: denials(r, 'spin') }).toEqual({ code: 'TASK_TIMED_OUT', denials: [] })
  }, 60_000)
})

describe('real refusals still count, and say how they were known', () => {
  it('the guard\'s sealed marker fails a Bun script that swallowed its refusal; the seal is in no log line', async () => {
    const r = await run(`
id: seal-guard
tasks:
  - id: bun
    type: core/script.bun
    script: |
      try { require('node:fs').readFileSync('/etc/shadow') } catch {}
      return { swallowed: true }
`)
    expect(r.runs.bun!.error).toMatchObject({ code: 'PERMISSION_DENIED', details: { permission: 'filesystem.read', target: '/etc/shadow' } })
    expect(r.runs.bun!.error?.details).not.toHaveProperty('inferred')
    expect(denials(r, 'bun')).toEqual([{ plugin: 'core/script', permission: 'filesystem.read', target: '/etc/shadow', attempt: 1 }])
    // Logged as the plain marker (its `::error::` is the line's level).
    expect(r.logs.some((l) => l.level === 'ERROR' && l.message === 'PERMISSION_DENIED filesystem.read /etc/shadow')).toBe(true)
    expect(r.logs.filter((l) => /PERMISSION_DENIED#|[0-9a-f]{32}/.test(l.message))).toEqual([])
  }, 60_000)

  it('a shell\'s refusal is PERMISSION_DENIED, inferred from its last stderr line, in its details and audit event', async () => {
    const r = await run(`
id: seal-shell
tasks:
  - { id: sh, type: core/script.shell, commands: ["cat /etc/shadow"], permissions: { run: [cat] } }
`)
    expect(r.runs.sh!.error).toMatchObject({ code: 'PERMISSION_DENIED', details: { permission: 'filesystem.read', target: '/etc/shadow', inferred: true } })
    expect(denials(r, 'sh')).toEqual([{ plugin: 'core/script', permission: 'filesystem.read', target: '/etc/shadow', attempt: 1, inferred: true }])
    expect(r.logs.some((l) => l.source === 'engine' && l.message.endsWith('was refused filesystem.read /etc/shadow (inferred from its own output)'))).toBe(true)
  }, 60_000)
})
