/**
 * Crash = restart mid-subflow: `kill -9` of a child-process engine while the parent waits (WAITING, SUBFLOW) and
 * the child's plugin runs, then a restart on the same SQLite file. There is still exactly one child (its id is the
 * run's, committed with the parent's wait), the child's interrupted attempt is given back and retried, its end wakes
 * the parked parent, which completes with the child's outputs; the parent's task before the subflow never runs again.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ChildLines, pollUntil } from './helpers/child-engine.ts'
import { EFFECTS_DIR, effectKey, effects, startedTmpDirs } from './helpers/engine.ts'
import { CHILD } from './fixtures/subflows.ts'

const ENGINE = resolve(import.meta.dir, 'fixtures/engine-child.ts')
const dir = mkdtempSync(join(tmpdir(), 'ak-subflow-crash-'))
const key = effectKey('subflow-crash')
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
  for (const f of [key, `${key}.started`]) rmSync(join(EFFECTS_DIR, f), { force: true })
})

const engineProcess = (...args: string[]) => Bun.spawn(['bun', ENGINE, dir, ...args], {
  stdout: 'pipe', stderr: 'inherit', stdin: 'ignore', env: { ...process.env, AUTOKESTRA_TEST_APPLY: join(dir, 'child.yaml') },
})

describe('crash recovery mid-subflow', () => {
  it('after kill -9 while the child runs: no second child, the child retries its attempt, the parent completes', async () => {
    await Bun.write(join(dir, 'child.yaml'), CHILD)
    const parentFile = join(dir, 'parent.yaml')
    await Bun.write(parentFile, `
id: parent
tasks:
  - id: before
    type: test/probe.effect
    inputs: { key: ${key} }
  - id: call
    needs: [before]
    subflow: { workflow: child, inputs: { n: 5, key: ${key}, sleepMs: 1500 } }
outputs:
  answer: "{{ tasks.call.output.doubled }}"
`)
    const first = engineProcess('start', parentFile)
    const [started] = await new ChildLines(first).until((o) => 'started' in o)
    const id = started!.started as string
    const db = new Database(join(dir, 'test.db'), { readonly: true })
    const children = () => db.query<{ id: string; state: string }, [string]>('SELECT id, state FROM executions WHERE parent_execution_id = ?').all(id)
    const call = () => db.query<{ state: string; reason: string | null; child_execution_id: string | null }, [string]>(
      "SELECT state, reason, child_execution_id FROM task_runs WHERE execution_id = ? AND task_id = 'call'").get(id)!
    // Killed once the parent waits for its child and the child's plugin has started.
    await pollUntil(() => (call().state === 'WAITING' && children().length === 1 && startedTmpDirs(key).some((d) => d) &&
      db.query<{ n: number }, [string]>("SELECT COUNT(*) AS n FROM task_runs WHERE execution_id = ? AND state = 'RUNNING'").get(children()[0]!.id)!.n === 1) || undefined,
    30_000, "the child's plugin to run")
    first.kill('SIGKILL')
    await first.exited
    const [child] = children()
    expect(call()).toEqual({ state: 'WAITING', reason: 'SUBFLOW', child_execution_id: child!.id })
    expect(child!.state).toBe('RUNNING')
    expect(effects(key).map((e) => e.taskId)).toEqual(['before'])

    const second = engineProcess('resume')
    const lines = new ChildLines(second)
    const [resuming] = await lines.until((o) => 'resuming' in o)
    expect((resuming!.resuming as string[]).sort()).toEqual([id, child!.id].sort())
    const out = await lines.until((o) => o.id === id && 'done' in o)
    expect(out.at(-1)).toEqual({ done: 'SUCCESS', id })
    // What is checked here is the recovery. An engine that resumed a parked execution sometimes does not exit after
    // its shutdown (seen on main too, in test/durable-wait's kill -9 case, which waits for the exit and times out):
    // that defect is reported on its own; here the child engine is stopped after a bounded wait.
    if (await Promise.race([second.exited.then(() => false), Bun.sleep(20_000).then(() => true)])) second.kill('SIGKILL')
    await second.exited

    expect(children()).toEqual([{ id: child!.id, state: 'SUCCESS' }])
    const parent = db.query<{ outputs: string }, [string]>('SELECT outputs FROM executions WHERE id = ?').get(id)!
    expect(JSON.parse(parent.outputs)).toEqual({ answer: 10 })
    // `before` ran once (SUCCESS never repeats); the child's task once to its side effect, on its second attempt.
    expect(effects(key).map((e) => `${e.taskId}:${e.attempt}`)).toEqual(['before:1', 'work:2'])
    const audit = db.query<{ type: string; task_id: string | null }, [string]>('SELECT type, task_id FROM audit_events WHERE execution_id = ? ORDER BY id').all(child!.id)
    expect(audit.filter((a) => a.type === 'RECOVERED' && a.task_id === 'work')).toHaveLength(1)
    expect(audit.filter((a) => a.type === 'CREATED')).toHaveLength(1)
    db.close()
  }, 60_000)
})
