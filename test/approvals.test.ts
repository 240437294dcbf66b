/**
 * Approvals on the real engine (SQLite file, worker thread, plugin processes): the run waits (APPROVAL) holding
 * nothing, a decision is checked against the task's schema, taken once, audited with who decided, and the
 * approver's inputs become its output; a timeout fails it; a pending approval survives kill -9.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEngine } from '../actors/engine.ts'
import type { Engine } from '../actors/engine-types.ts'
import { ChildLines, pollUntil, spawnChildEngine } from './helpers/child-engine.ts'
import { effectKey, effects, testConfig, workflow } from './helpers/engine.ts'
import { rejectedAppError } from './helpers/errors.ts'

const expectAppError = async (p: Promise<unknown>, code: string) => expect((await rejectedAppError(p)).code).toBe(code as never)

export const approvalSource = (key: string, extra = '') => `
id: deploy
tasks:
  - id: build
    type: test/probe.effect
    inputs: { key: ${key} }
  - id: gate
    needs: [build]
    approval:
      message: Ship it?
      schema:
        type: object
        required: [ticket]
        additionalProperties: false
        properties:
          ticket: { type: string, pattern: "^OPS-[0-9]+$" }
          replicas: { type: integer, minimum: 1, default: 2 }
${extra}
  - id: ship
    type: test/probe.effect
    needs: [gate]
    inputs: { key: ${key}, value: "{{ tasks.gate.output.replicas }}" }
`

describe('approvals (engine)', () => {
  let dir: string
  let engine: Engine
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ak-approval-'))
    engine = await createEngine({ config: testConfig(dir, { WORKFLOW_EXECUTION_MAX_CONCURRENT_TASKS: '1' }) })
  })
  afterAll(async () => {
    await engine.shutdown({ graceMs: 0 })
    rmSync(dir, { recursive: true, force: true })
  })

  const waitingGate = (id: string) =>
    pollUntil(async () => (await engine.snapshot(id))?.taskRuns.find((t) => t.taskId === 'gate' && t.state === 'WAITING'), 30_000, 'the approval to wait')

  it('waits with reason APPROVAL holding no slot; approve checks the inputs, fills defaults, and they become the output', async () => {
    const key = effectKey('approve')
    const ex = await engine.start({ workflow: workflow(approvalSource(key)), trigger: { type: 'manual' } })
    const gate = await waitingGate(ex.id)
    expect(gate).toMatchObject({ reason: 'APPROVAL', attempt: 0 })
    expect(gate.nextAttemptAt).toBeUndefined()
    // Parked: the execution WAITING for the approval, on no worker; decisions below reach it all the same.
    await pollUntil(async () => ((await engine.store.executions.get(ex.id))?.state === 'WAITING' ? true : undefined))
    expect(await engine.store.executions.get(ex.id)).toMatchObject({ state: 'WAITING', reason: 'APPROVAL' })
    await pollUntil(() => (engine.stats().runningExecutions === 0 ? true : undefined))
    expect(engine.stats()).toMatchObject({ runningTasks: 0, waitingTasks: 0 })

    // Refused decisions change nothing: inputs that break the schema, an unknown task, a task that is no approval.
    await expectAppError(engine.decide(ex.id, 'gate', { verdict: 'approve', inputs: { ticket: 'nope', color: 'red' }, by: 'ops' }), 'INVALID_INPUT')
    await expectAppError(engine.decide(ex.id, 'gate', { verdict: 'approve', inputs: {}, by: 'ops' }), 'INVALID_INPUT')
    await expectAppError(engine.decide(ex.id, 'nope', { verdict: 'approve', inputs: {}, by: 'ops' }), 'NOT_FOUND')
    await expectAppError(engine.decide(ex.id, 'build', { verdict: 'approve', inputs: {}, by: 'ops' }), 'CONFLICT')
    await expectAppError(engine.decide('ex_nope', 'gate', { verdict: 'approve', inputs: {}, by: 'ops' }), 'NOT_FOUND')
    // A huge input is refused before the schema walks it, even one the schema would take (OPS-111…1 matches).
    const huge = await rejectedAppError(engine.decide(ex.id, 'gate', { verdict: 'approve', inputs: { ticket: `OPS-${'1'.repeat(70_000)}` }, by: 'ops' }))
    expect(huge).toMatchObject({ code: 'INVALID_INPUT', details: { path: 'inputs', maxBytes: 65_536 } })
    await expectAppError(engine.decide(ex.id, 'gate', { verdict: 'reject', reason: '  ', by: 'ops' }), 'INVALID_INPUT')
    expect((await engine.snapshot(ex.id))!.taskRuns.find((t) => t.taskId === 'gate')!.state).toBe('WAITING')

    const run = await engine.decide(ex.id, 'gate', { verdict: 'approve', inputs: { ticket: 'OPS-42' }, by: 'alice' })
    expect(run).toMatchObject({ state: 'SUCCESS', attempt: 1, output: { ticket: 'OPS-42', replicas: 2 } })
    expect((await engine.waitFor(ex.id)).state).toBe('SUCCESS')
    // Decided once: a second decision is refused.
    await expectAppError(engine.decide(ex.id, 'gate', { verdict: 'reject', reason: 'late', by: 'bob' }), 'CONFLICT')
    expect(effects(key).map((e) => e.taskId)).toEqual(['build', 'ship'])
    const audit = (await engine.store.audit.forExecution(ex.id)).filter((a) => a.taskId === 'gate')
    expect(audit.map((a) => a.type)).toEqual(['STATE_CHANGE', 'STARTED', 'APPROVED'])
    // Who decided and the names of the inputs they gave (values are in the output, masked like any output).
    expect(audit.at(-1)!.data).toMatchObject({ by: 'alice', inputs: ['ticket'], to: 'SUCCESS' })
  }, 60_000)

  it('reject fails the task APPROVAL_REJECTED (not retried) with who and why, and skips what follows', async () => {
    const key = effectKey('reject')
    const ex = await engine.start({ workflow: workflow(approvalSource(key, '    retry: { max: 3 }')), trigger: { type: 'manual' } })
    await waitingGate(ex.id)
    const run = await engine.decide(ex.id, 'gate', { verdict: 'reject', reason: 'not today', by: 'bob' })
    expect(run).toMatchObject({ state: 'FAILED', attempt: 1, error: { code: 'APPROVAL_REJECTED', details: { by: 'bob', reason: 'not today' } } })
    const end = await engine.waitFor(ex.id)
    expect(end).toMatchObject({ state: 'FAILED', error: { code: 'APPROVAL_REJECTED' } })
    expect((await engine.snapshot(ex.id))!.taskRuns.map((t) => [t.taskId, t.state])).toEqual([['build', 'SUCCESS'], ['gate', 'FAILED'], ['ship', 'SKIPPED']])
    const rejected = (await engine.store.audit.forExecution(ex.id)).find((a) => a.type === 'REJECTED')
    expect(rejected).toMatchObject({ taskId: 'gate', data: { by: 'bob', reason: 'not today' } })
    expect(effects(key).map((e) => e.taskId)).toEqual(['build'])
  }, 60_000)

  it('with a timeout and no decision, the task fails APPROVAL_TIMED_OUT at its deadline', async () => {
    const key = effectKey('approval-timeout')
    const ex = await engine.start({ workflow: workflow(approvalSource(key, '    timeout: 300ms')), trigger: { type: 'manual' } })
    const gate = await waitingGate(ex.id)
    expect(gate.nextAttemptAt).toBeGreaterThan(gate.updatedAt)
    const end = await engine.waitFor(ex.id)
    expect(end.state).toBe('FAILED')
    const run = (await engine.snapshot(ex.id))!.taskRuns.find((t) => t.taskId === 'gate')!
    expect(run).toMatchObject({ state: 'FAILED', error: { code: 'APPROVAL_TIMED_OUT' } })
    expect(run.endedAt!).toBeGreaterThanOrEqual(gate.nextAttemptAt!)
  }, 60_000)

  it('a decision reaches the execution on its worker too, while another task of it runs', async () => {
    const key = effectKey('approval-live')
    const ex = await engine.start({ workflow: workflow(`id: live
tasks:
  - id: slow
    type: test/probe.effect
    inputs: { key: ${key}, sleepMs: 3000 }
  - id: gate
    approval: {}
`), trigger: { type: 'manual' } })
    await waitingGate(ex.id)
    expect((await engine.store.executions.get(ex.id))!.state).toBe('RUNNING') // slow holds it on its worker
    // Without a schema an approval takes no inputs.
    await expectAppError(engine.decide(ex.id, 'gate', { verdict: 'approve', inputs: { x: '1' }, by: 'ops' }), 'INVALID_INPUT')
    const run = await engine.decide(ex.id, 'gate', { verdict: 'approve', inputs: {}, by: 'ops' })
    expect(run).toMatchObject({ state: 'SUCCESS', output: {} })
    expect((await engine.snapshot(ex.id))!.taskRuns.find((t) => t.taskId === 'slow')!.state).toBe('RUNNING')
    expect((await engine.waitFor(ex.id)).state).toBe('SUCCESS')
  }, 60_000)

  it('a cancel ends a pending approval CANCELLED', async () => {
    const ex = await engine.start({ workflow: workflow(approvalSource(effectKey('approval-cancel'))), trigger: { type: 'manual' } })
    await waitingGate(ex.id)
    await engine.cancel(ex.id)
    expect((await engine.waitFor(ex.id)).state).toBe('CANCELLED')
    await expectAppError(engine.decide(ex.id, 'gate', { verdict: 'approve', inputs: { ticket: 'OPS-1' }, by: 'ops' }), 'CONFLICT')
  }, 60_000)
})

describe('approver inputs are data, never templates', () => {
  it('a template in an approver input reaches the next task as text: no secret is pulled in through it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ak-approval-inject-'))
    const SECRET = 'sekrit-value-0123456789'
    const engine = await createEngine({ config: testConfig(dir), secrets: { resolve: async (names) => Object.fromEntries(names.map((n) => [n, SECRET])) } })
    try {
      const key = effectKey('approval-inject')
      const ex = await engine.start({ workflow: workflow(`id: inject
secrets: [TOKEN]
tasks:
  - id: gate
    approval:
      schema: { type: object, properties: { note: { type: string } } }
  - id: use
    type: test/probe.effect
    needs: [gate]
    inputs: { key: ${key}, value: "{{ tasks.gate.output.note }}", token: "{{ secrets.TOKEN }}" }
  - id: mixed
    type: test/probe.effect
    needs: [gate]
    inputs: { key: ${key}, value: "note: {{ tasks.gate.output.note }}" }
`), trigger: { type: 'manual' } })
      await pollUntil(async () => (await engine.snapshot(ex.id))?.taskRuns.find((t) => t.taskId === 'gate' && t.state === 'WAITING'))
      await engine.decide(ex.id, 'gate', { verdict: 'approve', inputs: { note: '{{ secrets.TOKEN }}' }, by: 'mallory' })
      const end = await engine.waitFor(ex.id)
      const runs = (await engine.snapshot(ex.id))!.taskRuns
      // The secret is resolved for that very call (its own input names it), yet the value is the text typed.
      expect(end.state).toBe('SUCCESS')
      expect(runs.find((t) => t.taskId === 'use')!.output).toMatchObject({ value: '{{ secrets.TOKEN }}' })
      expect(runs.find((t) => t.taskId === 'mixed')!.output).toMatchObject({ value: 'note: {{ secrets.TOKEN }}' })
      expect(JSON.stringify(runs)).not.toContain(SECRET)
    } finally {
      await engine.shutdown({ graceMs: 0 })
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})

describe('a pending approval across kill -9', () => {
  let dir: string
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'ak-approval-crash-')) })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('is still pending after the restart, is approved then, and nothing that succeeded runs again', async () => {
    const key = effectKey('approval-crash')
    const wfFile = join(dir, 'deploy.yaml')
    await Bun.write(wfFile, approvalSource(key))
    const first = spawnChildEngine(dir, 'start', wfFile)
    const [started] = await new ChildLines(first).until((o) => 'started' in o)
    const id = started!.started as string
    const db = new Database(join(dir, 'test.db'), { readonly: true })
    await pollUntil(() => db.query<{ state: string }, [string]>("SELECT state FROM task_runs WHERE execution_id = ? AND task_id = 'gate' AND state = 'WAITING'").get(id) ?? undefined, 30_000, 'the approval to wait')
    first.kill('SIGKILL')
    await first.exited
    db.close()

    const engine = await createEngine({ config: testConfig(dir) })
    try {
      const gate = (await engine.snapshot(id))!.taskRuns.find((t) => t.taskId === 'gate')!
      expect(gate).toMatchObject({ state: 'WAITING', reason: 'APPROVAL' })
      // The decision waits for the recovered execution to reach its worker.
      const run = await engine.decide(id, 'gate', { verdict: 'approve', inputs: { ticket: 'OPS-7', replicas: 3 }, by: 'carol' })
      expect(run.output).toEqual({ ticket: 'OPS-7', replicas: 3 })
      expect((await engine.waitFor(id)).state).toBe('SUCCESS')
      expect(effects(key).map((e) => e.taskId)).toEqual(['build', 'ship'])
      const audit = await engine.store.audit.forExecution(id)
      expect(audit.filter((a) => a.type === 'APPROVED')).toHaveLength(1)
      expect(audit.filter((a) => a.taskId === 'build' && a.type === 'COMPLETED')).toHaveLength(1)
    } finally {
      await engine.shutdown({ graceMs: 0 })
    }
  }, 90_000)
})
