/**
 * Crash = restart in the composed shape (forEach → subflow per item, concurrency 3, `if:` in the child): `kill -9`
 * of a child-process engine once some children have succeeded and others run, then a restart on the same SQLite
 * file. Every iteration still has exactly one child (its id is derived from the run), no child or iteration that
 * had succeeded runs again (its audit trail is unchanged), and the pipeline completes with every item's output.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ChildLines, pollUntil } from './helpers/child-engine.ts'
import { effectKey, effects } from './helpers/engine.ts'
import { removeEffects } from './storage-helpers.ts'

const ENGINE = resolve(import.meta.dir, 'fixtures/engine-child.ts')
const dir = mkdtempSync(join(tmpdir(), 'ak-etl-crash-'))
const key = effectKey('etl-crash')
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
  removeEffects([key])
})
const N = 12

const ITEM = `
id: item
inputs: { n: { type: number, required: true } }
outputs: { n: "{{ inputs.n }}", kept: "{{ tasks.work.state == 'SUCCESS' }}" }
tasks:
  - id: work
    if: inputs.n % 4 != 0
    type: test/probe.effect
    retry: { max: 1, backoff: { type: fixed, delay: 10ms } }
    inputs: { key: ${key}, sleepMs: 300, value: "{{ inputs.n }}" }
`
const PIPELINE = `
id: pipeline
outputs:
  kept: "{{ tasks.each.outputs.filter(o, o.kept).map(o, o.n) }}"
tasks:
  - id: each
    forEach: "${JSON.stringify(Array.from({ length: N }, (_, i) => i)).replaceAll(',', ', ')}"
    concurrency: 3
    subflow: { workflow: item, inputs: { n: "{{ item }}" } }
finally:
  - { id: tidy, type: core/log.info, inputs: { message: done } }
`

const engineProcess = (...args: string[]) => Bun.spawn(['bun', ENGINE, dir, ...args], {
  stdout: 'pipe', stderr: 'inherit', stdin: 'ignore', env: { ...process.env, AUTOKESTRA_TEST_APPLY: join(dir, 'item.yaml') },
})

describe('crash recovery in a forEach of subflows', () => {
  it('after kill -9 with children done and running: one child per iteration, nothing that succeeded runs again, it completes', async () => {
    await Bun.write(join(dir, 'item.yaml'), ITEM)
    await Bun.write(join(dir, 'pipeline.yaml'), PIPELINE)
    const first = engineProcess('start', join(dir, 'pipeline.yaml'))
    const [started] = await new ChildLines(first).until((o) => 'started' in o)
    const id = started!.started as string
    const db = new Database(join(dir, 'test.db'), { readonly: true })
    const children = () => db.query<{ id: string; state: string; task: string }, [string]>(
      'SELECT id, state, parent_task_id AS task FROM executions WHERE parent_execution_id = ? ORDER BY parent_task_id').all(id)
    const trail = (execution: string) => db.query<{ type: string; task_id: string | null }, [string]>(
      'SELECT type, task_id FROM audit_events WHERE execution_id = ? ORDER BY id').all(execution).map((a) => `${a.task_id ?? '-'}:${a.type}`)
    // Killed once three children have succeeded and another one's plugin runs.
    await pollUntil(() => {
      const c = children()
      const running = c.filter((x) => x.state === 'RUNNING').some((x) =>
        db.query<{ n: number }, [string]>("SELECT COUNT(*) AS n FROM task_runs WHERE execution_id = ? AND state = 'RUNNING'").get(x.id)!.n > 0)
      return c.filter((x) => x.state === 'SUCCESS').length >= 3 && running ? true : undefined
    }, 60_000, 'children to succeed while another runs')
    first.kill('SIGKILL')
    await first.exited
    const before = children()
    const done = before.filter((c) => c.state === 'SUCCESS')
    expect(done.length).toBeLessThan(N)
    const trailsBefore = new Map(done.map((c) => [c.id, trail(c.id)]))
    const parentBefore = trail(id)
    const iterationsDone = db.query<{ task_id: string }, [string]>("SELECT task_id FROM task_runs WHERE execution_id = ? AND parent_path = 'each' AND state = 'SUCCESS'").all(id).map((r) => r.task_id)

    const second = engineProcess('resume')
    const lines = new ChildLines(second)
    const out = await lines.until((o) => o.id === id && 'done' in o)
    expect(out.at(-1)).toEqual({ done: 'SUCCESS', id })
    // The recovered engine's own exit is not what is checked here (see test/subflows-crash.test.ts): bounded.
    if (await Promise.race([second.exited.then(() => false), Bun.sleep(20_000).then(() => true)])) second.kill('SIGKILL')
    await second.exited

    // One child per iteration, the same ones as before the crash, all SUCCESS.
    const after = children()
    expect(after.map((c) => c.task)).toEqual(Array.from({ length: N }, (_, i) => `each[${i}]`).sort())
    expect(after.every((c) => c.state === 'SUCCESS')).toBe(true)
    for (const c of before) expect(after.find((a) => a.task === c.task)!.id).toBe(c.id)
    // What had succeeded was not touched: the same audit trail, child by child and iteration by iteration.
    for (const [child, t] of trailsBefore) expect(trail(child)).toEqual(t)
    const parentAfter = trail(id)
    for (const it of iterationsDone) expect(parentAfter.filter((a) => a.startsWith(`${it}:`))).toEqual(parentBefore.filter((a) => a.startsWith(`${it}:`)))
    // The child's branch held: every n % 4 == 0 skipped, the others ran to their side effect (at least once; a run
    // interrupted by the kill may have written its effect and run again).
    const outputs = JSON.parse(db.query<{ outputs: string }, [string]>('SELECT outputs FROM executions WHERE id = ?').get(id)!.outputs) as { kept: number[] }
    expect(outputs.kept).toEqual(Array.from({ length: N }, (_, i) => i).filter((i) => i % 4 !== 0))
    const works = effects(key).filter((e) => e.taskId === 'work')
    expect(works.length).toBeGreaterThanOrEqual(outputs.kept.length)
    expect(works.length).toBeLessThanOrEqual(outputs.kept.length + (N - done.length))
    expect(db.query<{ state: string }, [string]>("SELECT state FROM task_runs WHERE execution_id = ? AND task_id = 'finally/tidy'").get(id)?.state).toBe('SUCCESS')
    db.close()
  }, 120_000)
})
