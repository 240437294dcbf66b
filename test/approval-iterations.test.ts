/**
 * Approving one iteration of a forEach of approvals, end to end: on a real server, `gate[3]` approved with the CLI
 * and `gate[0]` over the API, `gate[1]` rejected with the CLI and `gate[4]` over the API — each decision taken by its
 * run path alone, checked by the schema, audited with the key's name; and with `workflow run`, which asks for each
 * iteration on the terminal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { call, createClient } from '../api/client.ts'
import { cleanEnv, cli, freePort, oneJson, root, startServerProcess, tempDir, waitUntil, type ServerProcess } from './server-helpers.ts'

/** Five regions, each shipped only on its own approval (with a ticket); a rejected one is allowed to fail. */
const SOURCE = `
id: regions
tasks:
  - id: list
    type: core/log.info
    inputs: { message: "eu us ap sa af" }
  - id: gate
    needs: [list]
    forEach: tasks.list.output.message.split(" ")
    concurrency: 5
    allowFailure: true
    approval:
      message: Ship this region?
      schema:
        type: object
        required: [ticket]
        additionalProperties: false
        properties: { ticket: { type: string, pattern: "^OPS-[0-9]+$" } }
outputs:
  tickets: "{{ tasks.gate.outputs.map(o, o == null ? '-' : o.ticket) }}"
`

const dir = tempDir('ak-approve-each-')
const ALICE = 'alice-key-0123456789abcdef'
const BOB = 'bob-key-0123456789abcdef'
const port = freePort()
const url = `http://127.0.0.1:${port}`
const dbPath = join(dir, 'server.db')
const config = join(dir, 'config.yaml')
const file = join(dir, 'regions.yaml')
writeFileSync(file, SOURCE)
writeFileSync(config, [
  'server:', '  host: 127.0.0.1', `  port: ${port}`, '  shutdownGraceSeconds: 1',
  `  apiKeys: [{ name: alice, key: ${ALICE} }, { name: bob, key: ${BOB} }]`,
  'storage:', `  path: ${dbPath}`, 'plugins:', `  paths: [${join(root, 'plugins')}]`, '',
].join('\n'))

let server: ServerProcess
beforeAll(async () => { server = await startServerProcess(['bun', 'cli/main.ts'], config, port, cleanEnv({ WORKFLOW_CONFIG: config })) })
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const asAlice = (...args: string[]) => cli(['--server', url, '--api-key', ALICE, ...args])
type Row = { taskId: string; state: string; reason?: string; output?: unknown; error?: { code: string; details?: { by?: string; reason?: string } } }
const tasksOf = async (id: string): Promise<Row[]> => oneJson(await asAlice('execution', 'inspect', id, '--json')).tasks

describe('approving an iteration over the server', () => {
  it('approve and reject gate[i] by run path with the CLI and the API; each decided once, audited with its key', async () => {
    expect((await asAlice('apply', file, '--json')).code).toBe(0)
    const id = oneJson(await asAlice('trigger', 'regions', '--json')).id as string
    await waitUntil('the five iterations to wait for approval', async () =>
      (await tasksOf(id)).filter((t) => /^gate\[\d\]$/.test(t.taskId) && t.state === 'WAITING' && t.reason === 'APPROVAL').length === 5)

    // The CLI, as alice: gate[3] approved (its schema checked first), gate[1] rejected.
    const bad = await asAlice('execution', 'approve', id, 'gate[3]', '--input', 'ticket=nope', '--json')
    expect(bad.code).toBe(2)
    expect(oneJson(bad).error.code).toBe('INVALID_INPUT')
    const approved = await asAlice('execution', 'approve', id, 'gate[3]', '--input', 'ticket=OPS-3')
    expect(approved.code).toBe(0)
    expect(approved.stdout).toContain('task gate[3] is SUCCESS')
    const rejected = await asAlice('execution', 'reject', id, 'gate[1]', '--reason', 'not in the us yet', '--json')
    expect(rejected.code).toBe(0)
    expect(oneJson(rejected).tasks.find((t: Row) => t.taskId === 'gate[1]')).toMatchObject({ state: 'FAILED', error: { code: 'APPROVAL_REJECTED' } })
    // Decided already; no such iteration; the forEach task itself waits for no decision.
    expect(oneJson(await asAlice('execution', 'approve', id, 'gate[3]', '--input', 'ticket=OPS-9', '--json')).error.code).toBe('CONFLICT')
    expect((await asAlice('execution', 'approve', id, 'gate[9]', '--json')).code).toBe(4)
    expect(oneJson(await asAlice('execution', 'approve', id, 'gate', '--json')).error.code).toBe('CONFLICT')

    // The API, as bob: the run path percent-encoded by hand, and through the Eden client.
    const post = (path: string, verdict: string, body: unknown) => fetch(`${url}/api/v1/executions/${id}/tasks/${path}/${verdict}`, {
      method: 'POST', headers: { authorization: `Bearer ${BOB}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    })
    const res = await post(encodeURIComponent('gate[0]'), 'approve', { inputs: { ticket: 'OPS-10' } })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { tasks: Row[] }).tasks.find((t) => t.taskId === 'gate[0]')).toMatchObject({ state: 'SUCCESS', output: { ticket: 'OPS-10' } })
    const client = createClient(url, BOB)
    const viaEden = await call(client.api.v1.executions({ id }).tasks({ taskId: 'gate[4]' }).reject.post({ reason: 'af waits' }))
    expect(viaEden.tasks.find((t) => t.taskId === 'gate[4]')).toMatchObject({ state: 'FAILED', error: { code: 'APPROVAL_REJECTED' } })
    expect((await post('gate%5B4%5D', 'approve', { inputs: { ticket: 'OPS-4' } })).status).toBe(409)
    // The last one, and the execution ends: allowed to fail, with the iterations' outputs in order.
    expect((await asAlice('execution', 'approve', id, 'gate[2]', '--input', 'ticket=OPS-2')).code).toBe(0)
    await waitUntil('the execution to end', async () => oneJson(await asAlice('execution', 'inspect', id, '--json')).state === 'SUCCESS')
    const end = oneJson(await asAlice('execution', 'inspect', id, '--json'))
    expect(end).toMatchObject({ reason: 'ALLOWED_FAILURE', outputs: { tickets: ['OPS-10', '-', 'OPS-2', 'OPS-3', '-'] } })
    const rows = Object.fromEntries((end.tasks as Row[]).map((t) => [t.taskId, t]))
    expect(rows['gate[1]']!.error).toMatchObject({ code: 'APPROVAL_REJECTED', details: { by: 'alice', reason: 'not in the us yet' } })
    expect(rows['gate[4]']!.error).toMatchObject({ code: 'APPROVAL_REJECTED', details: { by: 'bob', reason: 'af waits' } })
    expect(rows.gate).toMatchObject({ state: 'FAILED', error: { code: 'APPROVAL_REJECTED' } })

    // The audit trail: one decision per iteration, by the key's name (never the key).
    const db = new Database(dbPath, { readonly: true })
    try {
      const audit = db.query("SELECT task_id AS task, type, data FROM audit_events WHERE execution_id = ? AND type IN ('APPROVED', 'REJECTED') ORDER BY task_id").all(id) as { task: string; type: string; data: string }[]
      expect(audit.map((a) => [a.task, a.type, (JSON.parse(a.data) as { by: string }).by])).toEqual([
        ['gate[0]', 'APPROVED', 'bob'], ['gate[1]', 'REJECTED', 'alice'], ['gate[2]', 'APPROVED', 'alice'],
        ['gate[3]', 'APPROVED', 'alice'], ['gate[4]', 'REJECTED', 'bob'],
      ])
      expect(audit.some((a) => a.data.includes(ALICE) || a.data.includes(BOB))).toBe(false)
    } finally {
      db.close()
    }
  }, 90_000)
})

describe('approving iterations with workflow run', () => {
  it('asks for each iteration by its run path, in order, and takes each answer for its own iteration', async () => {
    const r = await cli(['run', file, '--json'], {
      env: cleanEnv({ WORKFLOW_STORAGE_PATH: join(dir, 'local.db'), WORKFLOW_PLUGINS_PATHS: join(root, 'plugins') }),
      stdin: 'y ticket=OPS-1\nn no\ny ticket=bad\ny ticket=OPS-3\ny ticket=OPS-4\nn later\n',
    })
    for (const i of [0, 1, 2, 3, 4]) expect(r.stderr).toContain(`task gate[${i}] waits for approval: Ship this region?`)
    expect(r.stderr).toContain('INVALID_INPUT') // gate[2]'s first answer, asked again
    expect(r.code).toBe(0)
    const d = JSON.parse(r.stdout) as { state: string; reason?: string; outputs: { tickets: string[] } }
    expect(d).toMatchObject({ state: 'SUCCESS', reason: 'ALLOWED_FAILURE', outputs: { tickets: ['OPS-1', '-', 'OPS-3', 'OPS-4', '-'] } })
  }, 60_000)
})

describe('an approval inside a subflow with workflow run', () => {
  it("asks for the child's approval, naming the child and the run that started it, and the parent gets its outputs", async () => {
    const local = join(dir, 'nested')
    mkdirSync(local)
    writeFileSync(join(local, 'deploy-all.yaml'), `
id: deploy-all
outputs: { tickets: "{{ tasks.each.outputs.map(o, o == null ? '-' : o.ticket) }}" }
tasks:
  - id: each
    forEach: '["eu", "us"]'
    allowFailure: true
    subflow: { workflow: deploy-one, inputs: { region: "{{ item }}" } }
`)
    writeFileSync(join(local, 'deploy-one.yaml'), `
id: deploy-one
inputs: { region: { type: string, required: true } }
outputs: { ticket: "{{ tasks.gate.output.ticket }}" }
tasks:
  - id: gate
    approval:
      message: Ship this region?
      schema: { type: object, required: [ticket], properties: { ticket: { type: string } } }
`)
    const r = await cli(['run', join(local, 'deploy-all.yaml'), '--json'], {
      env: cleanEnv({ WORKFLOW_STORAGE_PATH: join(dir, 'nested.db'), WORKFLOW_PLUGINS_PATHS: join(root, 'plugins') }),
      stdin: 'y ticket=OPS-7\nn not today\n',
    })
    expect(r.stderr).toMatch(/task gate of deploy-one \(ex_\w+, started by each\[0\]\) waits for approval: Ship this region\?/)
    expect(r.stderr).toMatch(/task gate of deploy-one \(ex_\w+, started by each\[1\]\) waits for approval/)
    expect(r.code).toBe(0)
    const d = JSON.parse(r.stdout) as { state: string; reason?: string; outputs: { tickets: string[] } }
    expect(d).toMatchObject({ state: 'SUCCESS', reason: 'ALLOWED_FAILURE', outputs: { tickets: ['OPS-7', '-'] } })
  }, 60_000)
})
