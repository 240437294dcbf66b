/**
 * Error handling on the real engine (issue 13 item 6): `allowFailure`, `onFailure` with `{{ execution.error }}`,
 * `finally`, with real plugin processes on a real SQLite file; and a `kill -9` of a child-process engine while a
 * finally task runs, restarted on the same file.
 */
import { afterAll, afterEach, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { toExecutionDetail } from '../api/services/execution-dto.ts'
import { enginePlugins } from '../actors/plugins.ts'
import { Supervisor } from '../actors/supervisor/supervisor.ts'
import { systemClock } from '../runtime/clock.ts'
import { openSqliteStore } from '../runtime/store/sqlite/store.ts'
import { effectKey, effects, startTestEngine, testConfig, workflow, type TestEngine } from './helpers/engine.ts'
import { removeEffects } from './storage-helpers.ts'

const CHILD = resolve(import.meta.dir, 'fixtures/engine-child.ts')
const engines: TestEngine[] = []
const keys: string[] = []
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close()
  removeEffects(keys.splice(0))
})
const key = (name: string) => {
  const k = effectKey(name)
  keys.push(k)
  return k
}
const probe = (id: string, k: string, extra = '') => `  - { id: ${id}, type: test/probe.effect${extra}, inputs: { key: ${k} } }`

describe('error handling on the real engine', () => {
  it('allowFailure lets its dependents run; onFailure sees execution.error; finally runs last; the execution fails with the main error', async () => {
    const t = await startTestEngine()
    engines.push(t)
    const k = key('flow-errors')
    const yaml = `id: flow-errors
tasks:
${probe('a', k)}
  - { id: flaky, type: test/probe.effect, needs: [a], allowFailure: true, inputs: { key: ${k}, fail: true } }
${probe('after', k, ', needs: [flaky]')}
  - { id: boom, type: test/probe.effect, needs: [after], inputs: { key: ${k}, fail: true } }
${probe('behind', k, ', needs: [boom]')}
onFailure:
  - { id: alert, type: test/probe.effect, inputs: { key: ${k}, value: "{{ execution.error.message }}" } }
finally:
  - { id: clean, type: test/probe.effect, inputs: { key: ${k}, value: "{{ tasks.a.output.attempt }}" } }
`
    const ex = await t.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
    const end = await t.engine.waitFor(ex.id)
    expect(end.state).toBe('FAILED')
    expect(end.error).toMatchObject({ code: 'PLUGIN_ERROR', details: { taskId: 'boom' } })
    const detail = toExecutionDetail((await t.engine.snapshot(ex.id))!)
    const states = Object.fromEntries(detail.tasks.map((r) => [r.taskId, r.state]))
    expect(states).toEqual({
      a: 'SUCCESS', flaky: 'FAILED', after: 'SUCCESS', boom: 'FAILED', behind: 'SKIPPED', 'onFailure/alert': 'SUCCESS', 'finally/clean': 'SUCCESS',
    })
    const out = (path: string) => detail.tasks.find((r) => r.taskId === path)!.output as { value: unknown }
    expect(String(out('onFailure/alert').value)).toContain('task boom failed: planned failure')
    expect(out('finally/clean').value).toBe(1)
    // The order the processes ran in: main, then onFailure, then finally (a plugin sees its run's path).
    expect(effects(k).map((l) => l.taskId)).toEqual(['a', 'after', 'onFailure/alert', 'finally/clean'])
    expect(detail.tasks.find((r) => r.taskId === 'finally/clean')).toMatchObject({ type: 'test/probe.effect', kind: 'plugin' })
  })

  it('a failure allowed by allowFailure ends the execution SUCCESS with the warning flag, stored and audited', async () => {
    const t = await startTestEngine()
    engines.push(t)
    const k = key('flow-allowed')
    const yaml = `id: flow-allowed\ntasks:\n  - { id: flaky, type: test/probe.effect, allowFailure: true, inputs: { key: ${k}, fail: true } }\n${probe('next', k, ', needs: [flaky]')}\n`
    const ex = await t.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
    const end = await t.engine.waitFor(ex.id)
    expect(end).toMatchObject({ state: 'SUCCESS', reason: 'ALLOWED_FAILURE' })
    expect((await t.engine.store.executions.taskRun(ex.id, 'flaky'))).toMatchObject({ state: 'FAILED', error: { code: 'PLUGIN_ERROR', details: { pluginCode: 'PLANNED' } } })
    const completed = (await t.engine.store.audit.forExecution(ex.id)).find((a) => a.type === 'COMPLETED' && a.taskId === undefined)
    expect(completed?.data).toMatchObject({ reason: 'ALLOWED_FAILURE', allowedFailures: ['flaky'] })
    expect(effects(k).map((l) => l.taskId)).toEqual(['next'])
  })
})

describe('crash = restart while finally runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ak-flow-crash-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('kill -9 of the engine mid-finally: the restart finishes finally, the main task is not run again', async () => {
    const k = key('flow-crash')
    const file = join(dir, 'wf.yaml')
    await Bun.write(file, `id: flow-crash\ntasks:\n${probe('a', k)}\nfinally:\n  - { id: clean, type: test/probe.effect, retry: { max: 1 }, inputs: { key: ${k}, sleepMs: 3000 } }\n`)
    const first = Bun.spawn(['bun', CHILD, dir, 'start', file], { stdout: 'pipe', stderr: 'inherit', stdin: 'ignore' })
    let db: Database | undefined
    const running = () => {
      db ??= new Database(join(dir, 'test.db'), { readonly: true, create: false })
      return db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM task_runs WHERE task_id = 'finally/clean' AND state = 'RUNNING'").get()?.n ?? 0
    }
    const deadline = Date.now() + 30_000
    for (;;) {
      let n = 0
      try { n = running() } catch { /* the child has not created the file or its schema yet */ }
      if (n > 0) break
      if (Date.now() > deadline) throw new Error('finally/clean never ran')
      await Bun.sleep(10) // poll with a deadline
    }
    first.kill('SIGKILL')
    await first.exited
    const id = db!.query<{ id: string }, []>('SELECT id FROM executions').get()!.id
    db!.close()
    const second = Bun.spawn(['bun', CHILD, dir, 'resume'], { stdout: 'pipe', stderr: 'inherit', stdin: 'ignore' })
    const text = await new Response(second.stdout).text()
    await second.exited
    expect(text).toContain(JSON.stringify({ done: 'SUCCESS', id }))
    const lines = effects(k)
    expect(lines.filter((l) => l.taskId === 'a')).toHaveLength(1) // SUCCESS never runs again
    expect(lines.filter((l) => l.taskId === 'finally/clean').map((l) => l.attempt)).toEqual([2]) // the interrupted attempt, given back
    const check = new Database(join(dir, 'test.db'), { readonly: true })
    const audit = check.query<{ type: string }, [string]>("SELECT type FROM audit_events WHERE execution_id = ? AND task_id = 'finally/clean' ORDER BY id").all(id).map((r) => r.type)
    check.close()
    expect(audit).toContain('RECOVERED')
    expect(audit.at(-1)).toBe('COMPLETED')
  }, 60_000)
})

describe('a worker crash while finally runs', () => {
  it('recovers the finally task on a new worker; the main tasks are not run again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ak-flow-wcrash-'))
    const store = openSqliteStore(join(dir, 'w.db'))
    const plugins = enginePlugins(testConfig(dir))
    const supervisor = new Supervisor({
      store, clock: systemClock, maxConcurrentWorkflows: 2, maxConcurrentTasks: 2, workers: 1,
      settings: {
        registry: plugins.registry, grants: plugins.grants, defaultTimeoutMs: 30_000, passEnv: {},
        sandbox: { mode: 'strict', memoryMb: 512, cpuSeconds: 60, maxProcesses: 64, maxOutputBytes: 1_000_000 },
      },
    })
    try {
      const k = key('flow-wcrash')
      const running = new Promise<void>((resolve) => {
        const off = supervisor.subscribe((e) => { if (e.type === 'task' && e.taskId === 'finally/tidy' && e.state === 'RUNNING') (off(), resolve()) })
      })
      const ex = await supervisor.start({
        workflow: workflow(`id: wcrash\ntasks:\n${probe('a', k)}\nfinally:\n  - { id: tidy, type: test/probe.effect, retry: { max: 1 }, inputs: { key: ${k}, sleepMs: 400 } }\n`),
        trigger: { type: 'manual' },
      })
      await running
      supervisor.workerThreads()[0]!.terminate()
      expect((await supervisor.waitFor(ex.id)).state).toBe('SUCCESS')
      const tidy = (await store.executions.taskRun(ex.id, 'finally/tidy'))!
      expect(tidy.attempts.map((x) => [x.state, x.error?.code ?? null])).toEqual([['FAILED', 'INTERRUPTED'], ['SUCCESS', null]])
      expect(effects(k).map((l) => l.taskId)).toEqual(['a', 'finally/tidy'])
    } finally {
      await supervisor.shutdown(0)
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)
})
