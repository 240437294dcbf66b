/**
 * Review 2 attack, class "caller-controlled work done by the engine outside any bound" (schemas, the anonymous
 * caller's side of review2-schema-redos): a task's rendered input is checked against its plugin's input schema on
 * the worker thread that hosts the execution, synchronously, with no bound on the cost. An ordinary manifest — here
 * `recipients: { type: array, uniqueItems: true, items: { type: object } }`, nothing hostile — makes Ajv compare
 * every pair of items (deep equality: it hashes only scalar items), so n items cost n²/2 comparisons. The webhook
 * body is the caller's (1 MiB, after the key in the URL): ~140,000 distinct `[n]` are ~10¹⁰ comparisons, minutes
 * of one worker's time (about 4 here), during which every execution that worker hosts stands still. Neither the body cap,
 * the per-IP bound nor the per-workflow rate bounds it (one call is enough); the task's timeout does not run yet.
 *
 * Here: the real server (one worker) on 127.0.0.1; the operator applies the workflow; an anonymous caller POSTs
 * one body to its webhook URL; the operator then starts an unrelated one-task execution, which must finish.
 *
 * Recommended fix: check schemas where their cost cannot stall others (a worker of their own with a deadline, or
 * the task's sandboxed process) or bound the work: refuse `uniqueItems` over non-scalar items beyond a size (or
 * hash items canonically: O(n)), cap array lengths a schema check accepts (a `maxItems` the engine imposes), and
 * count the check against the task's timeout.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { loadPlugins } from '../sandbox/plugins/registry.ts'
import { EFFECTS_DIR, TEST_PLUGINS } from './helpers/engine.ts'
import { KEY, cleanEnv, freePort, root, tempDir } from './server-helpers.ts'
import { removeEngineLeftovers } from './fixtures/review2/cleanup.ts'

const dir = tempDir('ak-review2-hookcost-')
const procs: ReturnType<typeof Bun.spawn>[] = []
afterAll(async () => {
  for (const p of procs) { p.kill('SIGKILL'); await p.exited; removeEngineLeftovers() }
  rmSync(dir, { recursive: true, force: true })
})

const NOTIFY = `id: notify
inputs:
  - { name: recipients, type: array, required: true }
triggers:
  - { type: webhook }
tasks:
  - { id: send, type: review2/mailer.send, inputs: { recipients: "{{ inputs.recipients }}" } }
`
const OTHER = 'id: other\ntasks:\n  - { id: f, type: test/probe.fibo, inputs: { n: 5 } }\n'

describe('review 2: one webhook body cannot stall the engine through a schema check', () => {
  it('a uniqueItems schema over objects is refused at load: no 1 MiB body can make the engine compare every pair', async () => {
    const port = freePort()
    const config = join(dir, 'config.yaml')
    writeFileSync(config, [
      'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 0',
      'storage:', `  path: ${join(dir, 'data', 'autokestra.db')}`, 'execution:', '  workers: 1',
      'plugins:', `  paths: [${TEST_PLUGINS}, ${resolve(import.meta.dir, 'fixtures/plugins/review2-benign')}]`,
      'sandbox:', '  policy:', '    filesystem:', `      write: [${EFFECTS_DIR}]`, '',
    ].join('\n'))
    const proc = Bun.spawn(['bun', 'cli/main.ts', 'server', 'start', '-c', config], { cwd: root, env: cleanEnv(), stdout: 'ignore', stderr: 'ignore' })
    procs.push(proc)
    const url = `http://127.0.0.1:${port}`
    const auth = { authorization: `Bearer ${KEY}` }
    const end0 = Date.now() + 20_000
    while (Date.now() < end0 && !(await fetch(`${url}/health`).then((r) => r.ok, () => false))) await Bun.sleep(100)
    const put = async (yaml: string) => fetch(`${url}/api/v1/workflows/${/id: (\S+)/.exec(yaml)![1]}`, { method: 'PUT', headers: { ...auth, 'content-type': 'text/yaml' }, body: yaml })
    const other = await put(OTHER)
    expect({ ok: other.ok, body: other.ok ? '' : await other.text() }).toEqual({ ok: true, body: '' })
    // The fix: such a schema is refused when its manifest loads (runtime/json-schema/hazards.ts), so the plugin is
    // not there, a workflow using it is refused at apply, and nothing of its schema can run on the engine.
    const notify = await put(NOTIFY)
    expect(notify.status).toBe(400)
    expect(await notify.text()).toContain('"code":"UNKNOWN_TASK_TYPE"')
    const loaded = loadPlugins([resolve(import.meta.dir, 'fixtures/plugins/review2-benign')])
    expect(loaded.plugins.size).toBe(0)
    expect(loaded.problems.map((p) => p.message).join('\n')).toContain('uniqueItems needs items of a scalar type')
  }, 90_000)
})
