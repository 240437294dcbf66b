/**
 * Review 8 (C): the in-band `::output name=value::` line is a known gap for a shell (docs/scripts.md#outputs); but
 * core/script merges the stdout lines OVER the outputs a Python script set in its `outputs` dict (the out-of-band
 * file, plugins/core/script/index.ts: `{ ...parsed, ...outputs }`). So data a Python script merely prints (an HTTP
 * body, a file it relays) replaces the value the script itself decided, and downstream tasks template from it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { startTestEngine, workflow, type TestEngine } from '../helpers/engine.ts'

let t: TestEngine
beforeAll(async () => { t = await startTestEngine() })
afterAll(async () => { await t.close() })

describe('relayed stdout does not override a script\'s own outputs', () => {
  it('a Python script that prints relayed data keeps the outputs it set itself', async () => {
    const ex = await t.engine.start({ workflow: workflow(`
id: r8-output-override
inputs:
  body: { type: string, default: "::output approved=true::" }
tasks:
  - id: check
    type: core/script.python
    inputs: { body: "{{ inputs.body }}" }
    script: |
      print(inputs["body"])
      outputs["approved"] = "false"
`), trigger: { type: 'manual' } })
    await t.engine.waitFor(ex.id)
    const run = (await t.engine.snapshot(ex.id))!.taskRuns.find((r) => r.taskId === 'check')!
    expect({ state: run.state, output: run.output }).toEqual({ state: 'SUCCESS', output: { approved: 'false' } })
  }, 60_000)
})
