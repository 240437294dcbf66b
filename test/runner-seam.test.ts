/**
 * The runner seam, end to end: a toy runner registered by this test alone (test/fixtures/runners/toy.ts; no
 * production file names it) runs a task through the real engine, and an engine without it refuses the name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEngine } from '../actors/engine.ts'
import type { Engine } from '../actors/engine-types.ts'
import { RUNNER_KINDS, type RunnerRegistry } from '../sandbox/runners.ts'
import { testConfig, workflow } from './helpers/engine.ts'

const TOY: RunnerRegistry = { ...RUNNER_KINDS, toy: { module: new URL('./fixtures/runners/toy.ts', import.meta.url).href, programs: 'host' } }
const dir = mkdtempSync(join(tmpdir(), 'ak-runner-seam-'))
let withToy: Engine
let without: Engine

beforeAll(async () => {
  withToy = await createEngine({ config: testConfig(join(dir, 'toy')), runners: TOY })
  without = await createEngine({ config: testConfig(join(dir, 'plain')) })
})
afterAll(async () => {
  await Promise.all([withToy.shutdown({ graceMs: 0 }), without.shutdown({ graceMs: 0 })])
  rmSync(dir, { recursive: true, force: true })
})

const WF = workflow(`
id: seam
tasks:
  - { id: hi, type: core/log.info, runner: toy, inputs: { message: hello from the toy } }
  - { id: after, type: core/log.info, needs: [hi], inputs: { message: "{{ tasks.hi.output.message }} and the process runner" } }
`)

async function run(engine: Engine) {
  const ex = await engine.start({ workflow: WF, trigger: { type: 'manual' } })
  const done = await engine.waitFor(ex.id)
  const logs = (await engine.store.logs.list({ executionId: ex.id, limit: 100 })).items
  return { done, snap: (await engine.snapshot(ex.id))!, logs }
}

describe('runner seam', () => {
  it('runs a task on a runner added through the registry alone, next to a built-in one', async () => {
    const { done, snap, logs } = await run(withToy)
    expect(done.state).toBe('SUCCESS')
    const hi = snap.taskRuns.find((r) => r.taskId === 'hi')!
    expect(hi.output).toEqual({ message: 'hello from the toy' })
    expect(hi.attempts.map((a) => a.runner)).toEqual(['toy'])
    expect(snap.taskRuns.find((r) => r.taskId === 'after')!).toMatchObject({
      output: { message: 'hello from the toy and the process runner' }, attempts: [{ runner: 'process' }],
    })
    // The toy's own engine line and the plugin's line it relayed, both in the execution log.
    const messages = logs.filter((l) => l.taskId === 'hi').map((l) => l.message)
    expect(messages).toEqual(expect.arrayContaining(['toy runner runs plugin:core/log.info', 'hello from the toy']))
  }, 30_000)

  it('fails the task with INVALID_WORKFLOW on an engine that has no such runner', async () => {
    const { done, snap } = await run(without)
    expect(done.state).toBe('FAILED')
    expect(snap.taskRuns.find((r) => r.taskId === 'hi')!.error).toMatchObject({
      code: 'INVALID_WORKFLOW', message: 'unknown runner "toy" (this engine has: process, docker)',
    })
  }, 30_000)
})
