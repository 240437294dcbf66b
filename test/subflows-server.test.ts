/**
 * Subflows over the real server (a child process on 127.0.0.1, SQLite file, plugin processes), driven by the real
 * CLI binary and the Eden client: static recursion refused at apply with SUBFLOW_CYCLE and the cycle's path, and the
 * parent ↔ child links in `execution inspect` and `GET /api/v1/executions/:id`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { call, createClient } from '../api/client.ts'
import { effectKey, EFFECTS_DIR, TEST_PLUGINS } from './helpers/engine.ts'
import { cleanEnv, cli, freePort, oneJson, root, startServerProcess, tempDir, waitUntil, type ServerProcess } from './server-helpers.ts'
import { CHILD, parentSource } from './fixtures/subflows.ts'

const KEY = 'subflow-key-0123456789abcdef'
const dir = tempDir('ak-subflow-server-')
const port = freePort()
const url = `http://127.0.0.1:${port}`
let server: ServerProcess

const config = join(dir, 'config.yaml')
writeFileSync(config, [
  'server:', '  host: 127.0.0.1', `  port: ${port}`, '  shutdownGraceSeconds: 1', `  apiKeys: [${KEY}]`,
  'storage:', '  path: ./data/autokestra.db',
  'plugins:', `  paths: [${join(root, 'plugins')}, ${TEST_PLUGINS}]`,
  'sandbox:', '  policy:', "    network: ['*', '127.0.0.1:*']", `    filesystem: { write: [${EFFECTS_DIR}] }`, '',
].join('\n'))

const run = (...args: string[]) => cli(['--server', url, '--api-key', KEY, ...args])
const file = (name: string, text: string) => {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}

beforeAll(async () => { server = await startServerProcess(['bun', 'cli/main.ts'], config, port, cleanEnv({ WORKFLOW_CONFIG: config })) })
const keys: string[] = []
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
  for (const k of keys) for (const f of [k, `${k}.started`]) rmSync(join(EFFECTS_DIR, f), { force: true })
})

const calls = (id: string, target: string, extra = '') => `
id: ${id}
tasks:
  - id: first
    type: core/log.info
    inputs: { message: hi }
  - id: go
    needs: [first]
    subflow: { workflow: ${target} }
${extra}`

describe('subflows over the server', () => {
  it('apply refuses subflows that call each other in a circle (SUBFLOW_CYCLE, with the path and the cycle), and a workflow calling itself', async () => {
    expect((await run('apply', file('a.yaml', calls('ring-a', 'ring-b')), '--json')).code).toBe(0) // ring-b does not exist yet: fine
    expect((await run('apply', file('c.yaml', calls('ring-c', 'ring-a')), '--json')).code).toBe(0)
    const refused = await run('apply', file('b.yaml', calls('ring-b', 'ring-c')), '--json')
    expect(refused.code).toBe(2)
    const error = oneJson(refused).error
    expect(error.code).toBe('INVALID_WORKFLOW')
    expect(error.details.issues).toEqual([
      { path: 'tasks[1].subflow.workflow', code: 'SUBFLOW_CYCLE', message: 'subflows call each other in a circle: ring-b → ring-c → ring-a → ring-b' },
    ])
    // Nothing was stored.
    expect((await run('get', 'ring-b', '--json')).code).toBe(4)
    const self = oneJson(await run('apply', file('self.yaml', calls('selfish', 'selfish')), '--json')).error
    expect(self.details.issues[0]).toMatchObject({ path: 'tasks[1].subflow.workflow', code: 'SUBFLOW_CYCLE', message: expect.stringContaining('selfish → selfish') })
    // Over the API too: the same refusal, 400.
    const res = await fetch(`${url}/api/v1/workflows/ring-b`, { method: 'PUT', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'text/yaml' }, body: calls('ring-b', 'ring-c') })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { details: { issues: { code: string }[] } } }).error.details.issues[0]!.code).toBe('SUBFLOW_CYCLE')
  })

  it('the parent names its child on the task run, the child names its parent: in inspect and in the API', async () => {
    expect((await run('apply', file('child.yaml', CHILD), '--json')).code).toBe(0)
    expect((await run('apply', file('parent.yaml', parentSource()), '--json')).code).toBe(0)
    const key = effectKey('subflow-server')
    keys.push(key)
    const started = oneJson(await run('trigger', 'parent', '--input', `key=${key}`, '--wait', '--json'))
    expect(started).toMatchObject({ state: 'SUCCESS', outputs: { answer: 42 } })
    const client = createClient(url, KEY)
    const parent = await call(client.api.v1.executions({ id: started.id }).get())
    const task = parent.tasks.find((t) => t.taskId === 'call')!
    expect(task).toMatchObject({ kind: 'subflow', type: 'subflow child', state: 'SUCCESS', output: { doubled: 42 } })
    const childId = task.childExecutionId!
    expect(childId).toMatch(/^ex_/)
    const child = await call(client.api.v1.executions({ id: childId }).get())
    expect(child).toMatchObject({ state: 'SUCCESS', workflowId: 'child', parent: { executionId: started.id, taskId: 'call', depth: 1 }, trigger: { type: 'subflow' } })
    await waitUntil('the list to show the child', async () => (await call(client.api.v1.executions.get({ query: { workflowId: 'child' } }))).items.some((e) => e.id === childId))
    // The CLI: inspect shows both ends of the link.
    const human = await run('execution', 'inspect', started.id)
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(new RegExp(`call\\s+subflow child\\s+SUCCESS.*${childId}`))
    const childText = (await run('execution', 'inspect', childId)).stdout
    expect(childText).toContain(`parent    ${started.id} (task call, subflow depth 1)`)
    expect(oneJson(await run('execution', 'inspect', childId, '--json')).parent).toEqual({ executionId: started.id, taskId: 'call', depth: 1 })
  })
})
