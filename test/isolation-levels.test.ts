/**
 * Isolation levels end to end (real engine, real SQLite, real confined processes): `attempt` gives every task a
 * fresh process; `execution` shares warm processes within one execution only, and they go when it ends;
 * `workflow` shares a pool across executions of one workflow revision, never across workflows, permission sets or
 * secret values; a task's own level wins over its workflow's, which wins over the config's.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { SecretStore } from '../runtime/secrets/store.ts'
import { resolveMasterKey } from '../runtime/secrets/key.ts'
import { parseWorkflow } from '../runtime/workflow/index.ts'
import { startTestEngine, TEST_PLUGINS, workflow, type TestEngine } from './helpers/engine.ts'

const WARM_PLUGINS = resolve(import.meta.dir, 'fixtures/plugins/warm')
const PLUGINS = { WORKFLOW_PLUGINS_PATHS: [TEST_PLUGINS, WARM_PLUGINS].join(',') }

let t: TestEngine
let secrets: SecretStore
beforeAll(async () => {
  t = await startTestEngine(PLUGINS)
  secrets = new SecretStore(t.engine.store.secrets, resolveMasterKey({ env: process.env, keyFile: t.config.secrets.keyFile }).key)
})
afterAll(() => t.close())

type Out = { served: number; tmpDir: string; token?: string }

async function runOn(engine: TestEngine, yaml: string): Promise<Record<string, Out>> {
  const ex = await engine.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
  const done = await engine.engine.waitFor(ex.id)
  const snap = (await engine.engine.snapshot(ex.id))!
  if (done.state !== 'SUCCESS') throw new Error(`execution ${done.state}: ${JSON.stringify(snap.taskRuns.map((r) => r.error))}`)
  return Object.fromEntries(snap.taskRuns.map((r) => [r.taskId, r.output as Out]))
}
const run = (yaml: string) => runOn(t, yaml)

/** A chain of `n` whoami tasks. */
const chain = (id: string, level: string | undefined, n = 3, extra = '') => `
id: ${id}
${level ? `isolation: ${level}` : ''}
tasks:
${Array.from({ length: n }, (_, i) => `  - { id: t${i}, type: warm/probe.whoami${i ? `, needs: [t${i - 1}]` : ''}${extra} }`).join('\n')}
`
const proc = (o: Out): string => dirname(o.tmpDir)
const served = (outs: Record<string, Out>) => Object.keys(outs).sort().map((k) => outs[k]!.served)

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(20)
  }
}

describe('isolation levels', () => {
  it('attempt: every task gets a fresh process', async () => {
    const outs = await run(chain('iso-attempt', 'attempt'))
    // A fresh module each time (its counter restarts), in a temp dir of its own.
    expect(served(outs)).toEqual([1, 1, 1])
    expect(new Set(Object.values(outs).map((o) => o.tmpDir)).size).toBe(3)
  })

  it('execution: one process serves the execution\'s tasks in turn, and exits when the execution ends', async () => {
    const a = await run(chain('iso-exec', 'execution'))
    expect(served(a)).toEqual([1, 2, 3])
    expect(new Set(Object.values(a).map(proc)).size).toBe(1)
    await until(() => !existsSync(proc(a.t0!)), 'the execution\'s process to exit')
    // The next execution of the same workflow gets a process of its own.
    const b = await run(chain('iso-exec', 'execution'))
    expect(served(b)).toEqual([1, 2, 3])
    expect(proc(b.t0!)).not.toBe(proc(a.t0!))
  })

  it('workflow: a pool serves many executions of one workflow', async () => {
    const a = await run(chain('iso-wf', 'workflow'))
    const b = await run(chain('iso-wf', 'workflow'))
    expect(served(a)).toEqual([1, 2, 3])
    expect(served(b)).toEqual([4, 5, 6])
    expect(proc(b.t0!)).toBe(proc(a.t0!))
  })

  it('workflow: never crosses workflows, nor permission sets', async () => {
    const a = await run(chain('iso-wf-a', 'workflow', 1))
    const b = await run(chain('iso-wf-b', 'workflow', 1))
    expect(proc(b.t0!)).not.toBe(proc(a.t0!))
    expect(b.t0!.served).toBe(1)
    // The same workflow, its task narrowed to no env: another permission set, another process.
    const narrowed = await run(chain('iso-wf-a', 'workflow', 1, ', permissions: { env: [] }'))
    expect(narrowed.t0!.served).toBe(1)
    expect(proc(narrowed.t0!)).not.toBe(proc(a.t0!))
    const again = await run(chain('iso-wf-a', 'workflow', 1))
    expect(proc(again.t0!)).toBe(proc(a.t0!))
  })

  it('a task\'s isolation wins over its workflow\'s', async () => {
    const outs = await run(`
id: iso-override
isolation: execution
tasks:
  - { id: a, type: warm/probe.whoami }
  - { id: b, type: warm/probe.whoami, needs: [a], isolation: attempt }
  - { id: c, type: warm/probe.whoami, needs: [b] }
`)
    expect([outs.a!.served, outs.b!.served, outs.c!.served]).toEqual([1, 1, 2])
    expect(proc(outs.c!)).toBe(proc(outs.a!))
    expect(proc(outs.b!)).not.toBe(proc(outs.a!))
  })

  it('a rotated secret gets a new process, and the old value is never served again', async () => {
    const wf = (n: number) => `
id: iso-secret
isolation: workflow
secrets: [WARM_TOKEN]
tasks:
${Array.from({ length: n }, (_, i) => `  - { id: t${i}, type: warm/probe.env${i ? `, needs: [t${i - 1}]` : ''}, env: { TOKEN: "{{ secrets.WARM_TOKEN }}" } }`).join('\n')}
`
    await secrets.set('WARM_TOKEN', 'WARM-SECRET-ONE')
    const one = await run(wf(2))
    expect(one.t1!.served).toBe(2)
    await secrets.set('WARM_TOKEN', 'WARM-SECRET-TWO')
    const two = await run(wf(1))
    expect(two.t0!.served).toBe(1)
    expect(proc(two.t0!)).not.toBe(proc(one.t0!))
    await until(() => !existsSync(proc(one.t0!)), 'the process that held the old secret to be gone')
  })

  it('the config sets the default level', async () => {
    const e = await startTestEngine({ ...PLUGINS, WORKFLOW_SANDBOX_ISOLATION: 'execution' })
    try {
      expect(served(await runOn(e, chain('iso-default', undefined)))).toEqual([1, 2, 3])
    } finally {
      await e.close()
    }
  })

  it('refuses an unknown level on a workflow or a task, and on a task kind that runs no plugin', () => {
    const bad = parseWorkflow('id: x\nisolation: process\ntasks:\n  - { id: a, type: warm/probe.whoami }\n')
    expect(bad.ok).toBe(false)
    expect(JSON.stringify(!bad.ok && bad.issues)).toContain('isolation')
    const badTask = parseWorkflow('id: x\ntasks:\n  - { id: a, type: warm/probe.whoami, isolation: always }\n')
    expect(badTask.ok).toBe(false)
    expect(JSON.stringify(!badTask.ok && badTask.issues)).toContain('isolation')
    const wait = parseWorkflow('id: x\ntasks:\n  - { id: a, wait: 1s, isolation: execution }\n')
    expect(wait.ok).toBe(false)
    expect(parseWorkflow('id: x\nisolation: workflow\ntasks:\n  - { id: a, type: warm/probe.whoami, isolation: execution }\n').ok).toBe(true)
  })
})
