/**
 * Approvals, restart and replay over the real server (a child process on 127.0.0.1, SQLite file, plugin
 * processes), driven by the real CLI binary (--json, exit codes) and the Eden client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { call, createClient } from '../api/client.ts'
import { effectKey, effects, EFFECTS_DIR, TEST_PLUGINS } from './helpers/engine.ts'
import { cleanEnv, cli, freePort, oneJson, root, startServerProcess, tempDir, waitUntil, type ServerProcess } from './server-helpers.ts'

const ALICE = 'alice-key-0123456789abcdef'
const BOB = 'bob-key-0123456789abcdef'
const dir = tempDir('ak-control-')
const port = freePort()
const url = `http://127.0.0.1:${port}`
let server: ServerProcess

const config = join(dir, 'config.yaml')
writeFileSync(config, [
  'server:', '  host: 127.0.0.1', `  port: ${port}`, '  shutdownGraceSeconds: 1',
  `  apiKeys: [{ name: alice, key: ${ALICE} }, ${BOB}]`,
  'storage:', '  path: ./data/autokestra.db',
  'plugins:', `  paths: [${join(root, 'plugins')}, ${TEST_PLUGINS}]`,
  'sandbox:', '  policy:', "    network: ['*', '127.0.0.1:*']", `    filesystem: { write: [${EFFECTS_DIR}] }`, '',
].join('\n'))

/** The CLI as alice, against this server. */
const run = (...args: string[]) => cli(['--server', url, '--api-key', ALICE, ...args])
const file = (name: string, text: string) => {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}

beforeAll(async () => { server = await startServerProcess(['bun', 'cli/main.ts'], config, port, cleanEnv({ WORKFLOW_CONFIG: config })) })
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const approvalWorkflow = (key: string) => `
id: gated
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
          replicas: { type: integer, default: 1 }
  - id: ship
    type: test/probe.effect
    needs: [gate]
    inputs: { key: ${key}, value: "{{ tasks.gate.output.replicas }}" }
`

/** Starts the workflow over the CLI and waits for its approval to be pending. */
async function pendingApproval(key: string): Promise<string> {
  expect((await run('apply', file(`gated-${key}.yaml`, approvalWorkflow(key)), '--json')).code).toBe(0)
  const started = oneJson(await run('trigger', 'gated', '--json'))
  const id = started.id as string
  const client = createClient(url, ALICE)
  await waitUntil('the approval to be pending', async () =>
    (await call(client.api.v1.executions({ id }).get())).tasks.some((t) => t.taskId === 'gate' && t.state === 'WAITING' && t.reason === 'APPROVAL'))
  return id
}

describe('approvals over the CLI and the API', () => {
  it('CLI: approve with --input (typed by the schema) → exit 0, one JSON document; the audit names the key, never the key', async () => {
    const key = effectKey('cli-approve')
    const id = await pendingApproval(key)
    const bad = await run('execution', 'approve', id, 'gate', '--input', 'ticket=nope', '--json')
    expect(bad.code).toBe(2)
    expect(oneJson(bad).error).toMatchObject({ code: 'INVALID_INPUT', details: { issues: [{ path: 'inputs.ticket' }] } })
    const missingTask = await run('execution', 'approve', id, '--json')
    expect(missingTask.code).toBe(2)
    const unknown = await run('execution', 'approve', id, 'nope', '--json')
    expect(unknown.code).toBe(4)

    const ok = await run('execution', 'approve', id, 'gate', '--input', 'ticket=OPS-9', '--input', 'replicas=3', '--json')
    expect(ok.code).toBe(0)
    const detail = oneJson(ok)
    expect(detail.tasks.find((t: { taskId: string }) => t.taskId === 'gate')).toMatchObject({ state: 'SUCCESS', output: { ticket: 'OPS-9', replicas: 3 } })
    await waitUntil('the execution to succeed', async () => oneJson(await run('execution', 'inspect', id, '--json')).state === 'SUCCESS')
    expect(effects(key).map((e) => e.taskId)).toEqual(['build', 'ship'])
    const again = await run('execution', 'approve', id, 'gate', '--input', 'ticket=OPS-9', '--json')
    expect(again.code).toBe(1)
    expect(oneJson(again).error.code).toBe('CONFLICT')

    const audit = oneJson(await run('execution', 'inspect', id, '--audit', '--json')).audit as { type: string; data: Record<string, unknown> }[]
    const approved = audit.find((a) => a.type === 'APPROVED')!
    expect(approved.data.by).toBe('alice')
    expect(JSON.stringify(audit)).not.toContain(ALICE)
  }, 90_000)

  it('CLI: reject needs --reason (exit 2); with one the task fails APPROVAL_REJECTED and the execution FAILED', async () => {
    const key = effectKey('cli-reject')
    const id = await pendingApproval(key)
    const noReason = await run('execution', 'reject', id, 'gate', '--json')
    expect(noReason.code).toBe(2)
    const r = await run('execution', 'reject', id, 'gate', '--reason', 'change freeze', '--json')
    expect(r.code).toBe(0)
    expect(oneJson(r).tasks.find((t: { taskId: string }) => t.taskId === 'gate')).toMatchObject({ state: 'FAILED', error: { code: 'APPROVAL_REJECTED' } })
    await waitUntil('the execution to fail', async () => oneJson(await run('execution', 'inspect', id, '--json')).state === 'FAILED')
    expect(effects(key).map((e) => e.taskId)).toEqual(['build'])
  }, 90_000)

  it('API (Eden): approve and reject, a key without a name audited by its digest prefix, bad bodies as 4xx', async () => {
    const bob = createClient(url, BOB)
    const key = effectKey('api-approve')
    const id = await pendingApproval(key)
    const gate = bob.api.v1.executions({ id }).tasks({ taskId: 'gate' })
    const empty = await gate.reject.post({ reason: '' })
    expect(empty.status).toBe(400)
    const wrongType = await gate.approve.post({ inputs: { ticket: 'OPS-1', replicas: 'many' } })
    expect(wrongType.status).toBe(400)
    const detail = await call(gate.approve.post({ inputs: { ticket: 'OPS-77' } }))
    expect(detail.tasks.find((t) => t.taskId === 'gate')?.output).toEqual({ ticket: 'OPS-77', replicas: 1 })
    const audit = (await call(bob.api.v1.executions({ id }).audit.get())).items
    const approved = audit.find((a) => a.type === 'APPROVED')!
    expect((approved.data as { by: string }).by).toMatch(/^sha256:[0-9a-f]{8}$/)
    expect(JSON.stringify(audit)).not.toContain(BOB)

    const second = await pendingApproval(effectKey('api-reject'))
    const rejected = await call(bob.api.v1.executions({ id: second }).tasks({ taskId: 'gate' }).reject.post({ reason: 'no' }))
    expect(rejected.tasks.find((t) => t.taskId === 'gate')).toMatchObject({ state: 'FAILED', error: { code: 'APPROVAL_REJECTED', details: { by: (approved.data as { by: string }).by } } })
    const unauthorized = await createClient(url, 'wrong').api.v1.executions({ id: second }).tasks({ taskId: 'gate' }).approve.post({})
    expect(unauthorized.status).toBe(401)
  }, 90_000)
})

const flakyWorkflow = (key: string) => `
id: flaky
inputs: { label: { type: string, default: first } }
tasks:
  - id: a
    type: test/probe.effect
    inputs: { key: ${key}, value: "{{ inputs.label }}" }
  - id: b
    type: test/probe.effect
    needs: [a]
    inputs: { key: ${key}, failUntilAttempt: 2, value: "{{ tasks.a.output.value }}" }
  - id: c
    type: test/probe.effect
    needs: [b]
    inputs: { key: ${key}, value: "{{ inputs.label }}" }
`

/** Attempts that reached their side effect, per task. */
const counts = (key: string) => effects(key).reduce<Record<string, number>>((m, e) => ({ ...m, [e.taskId]: (m[e.taskId] ?? 0) + 1 }), {})

describe('restart and replay over the CLI and the API', () => {
  it('CLI: restart --wait re-runs only what failed (exit 0, one JSON document); a SUCCESS execution exits 1 CONFLICT', async () => {
    const key = effectKey('cli-restart')
    expect((await run('apply', file(`flaky-${key}.yaml`, flakyWorkflow(key)), '--json')).code).toBe(0)
    const failed = await run('trigger', 'flaky', '--wait', '--json')
    expect(failed.code).toBe(1)
    const id = oneJson(failed).id as string
    expect(counts(key)).toEqual({ a: 1 })

    const r = await run('execution', 'restart', id, '--wait', '--json')
    expect(r.code).toBe(0)
    const detail = oneJson(r)
    expect(detail).toMatchObject({ id, state: 'SUCCESS' })
    expect(detail.tasks.map((t: { taskId: string; attempts: number }) => [t.taskId, t.attempts])).toEqual([['a', 1], ['b', 2], ['c', 1]])
    expect(counts(key)).toEqual({ a: 1, b: 1, c: 1 })
    const audit = oneJson(await run('execution', 'inspect', id, '--audit', '--json')).audit as { type: string; taskId?: string; data: { by?: string } }[]
    expect(audit.find((a) => a.type === 'RESTARTED' && a.taskId === undefined)?.data.by).toBe('alice')

    const again = await run('execution', 'restart', id, '--json')
    expect(again.code).toBe(1)
    expect(oneJson(again).error.code).toBe('CONFLICT')
    const missing = await run('execution', 'restart', 'ex_nope', '--json')
    expect(missing.code).toBe(4)
  }, 90_000)

  it('CLI: replay --from with --input (typed by the declaration) creates a linked execution that reuses what is upstream', async () => {
    const key = effectKey('cli-replay')
    expect((await run('apply', file(`flaky2-${key}.yaml`, flakyWorkflow(key).replace('failUntilAttempt: 2', 'failUntilAttempt: 0')), '--json')).code).toBe(0)
    const original = oneJson(await run('trigger', 'flaky', '--wait', '--json'))
    expect(original.state).toBe('SUCCESS')
    const noFrom = await run('execution', 'replay', original.id, '--json')
    expect(noFrom.code).toBe(2)
    const r = await run('execution', 'replay', original.id, '--from', 'b', '--input', 'label=second', '--wait', '--json')
    expect(r.code).toBe(0)
    const replay = oneJson(r)
    expect(replay.id).not.toBe(original.id)
    expect(replay).toMatchObject({ state: 'SUCCESS', replayOf: { executionId: original.id, fromTask: 'b' }, inputs: { label: 'second' } })
    expect(replay.tasks.map((t: { taskId: string; reason?: string }) => [t.taskId, t.reason ?? null])).toEqual([['a', 'REUSED'], ['b', null], ['c', null]])
    expect(replay.tasks[2].output.value).toBe('second')
    expect(counts(key)).toEqual({ a: 1, b: 2, c: 2 })
    const human = await run('execution', 'inspect', replay.id)
    expect(human.stdout).toContain(`replay of ${original.id} from task b`)
  }, 90_000)

  it('API (Eden): restart and replay are typed; errors come back as 4xx with their codes', async () => {
    const api = createClient(url, ALICE).api.v1.executions
    const key = effectKey('api-restart')
    expect((await run('apply', file(`flaky3-${key}.yaml`, flakyWorkflow(key)), '--json')).code).toBe(0)
    const id = oneJson(await run('trigger', 'flaky', '--wait', '--json')).id as string
    const restarted = await call(api({ id }).restart.post({}))
    expect(restarted).toMatchObject({ id, state: 'PENDING' })
    await waitUntil('the restart to end', async () => (await call(api({ id }).get())).state === 'SUCCESS')
    const replay = await call(api({ id }).replay.post({ from: 'c' }))
    expect(replay.replayOf).toEqual({ executionId: id, fromTask: 'c' })
    expect((await api({ id }).replay.post({ from: 'nope' })).status).toBe(404)
    expect((await api({ id }).replay.post({ from: 'b', inputs: { nope: 1 } })).status).toBe(400)
    expect((await api({ id: 'ex_nope' }).restart.post({})).status).toBe(404)
    await waitUntil('the replay to end', async () => (await call(api({ id: replay.id }).get())).state === 'SUCCESS')
    expect(counts(key)).toEqual({ a: 1, b: 1, c: 2 })
  }, 90_000)
})
