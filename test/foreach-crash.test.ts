/**
 * Crash = restart mid-forEach (issue 13 item 3): `kill -9` of a child-process engine while a 50-item forEach runs with
 * concurrency 5, then a restart on the same SQLite file. The execution completes, no iteration that had succeeded
 * runs again (side effects counted), the parent is started once, and every iteration's audit trail ends COMPLETED.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { EFFECTS_DIR, effectKey, effects } from './helpers/engine.ts'

const CHILD = resolve(import.meta.dir, 'fixtures/engine-child.ts')
const dir = mkdtempSync(join(tmpdir(), 'ak-foreach-crash-'))
const key = effectKey('foreach-crash')
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
  for (const f of [key, `${key}.started`]) rmSync(join(EFFECTS_DIR, f), { force: true })
})

const child = (...args: string[]) => Bun.spawn(['bun', CHILD, dir, ...args], { stdout: 'pipe', stderr: 'inherit', stdin: 'ignore' })

describe('crash recovery mid-forEach', () => {
  it('resumes after kill -9: iterations that succeeded never run again, the rest run in order, the loop completes', async () => {
    const wfFile = join(dir, 'wf.yaml')
    await Bun.write(wfFile, `id: foreach-crash
inputs: { n: { type: number, default: 50 } }
outputs:
  values: "{{ tasks.each.outputs.map(o, o.value) }}"
tasks:
  - id: each
    forEach: "{{ LIST.filter(i, i < inputs.n) }}"
    concurrency: 5
    retry: { max: 1, backoff: { type: fixed, delay: 10ms } }
    type: test/probe.effect
    inputs: { key: ${key}, sleepMs: 150, value: "{{ item }}" }
`.replace('LIST', JSON.stringify(Array.from({ length: 50 }, (_, i) => i)).replaceAll(',', ', ')))
    const first = child('start', wfFile)
    let check: Database | undefined
    const succeeded = () => {
      check ??= new Database(join(dir, 'test.db'), { readonly: true, create: false })
      return check.query<{ task_id: string }, []>("SELECT task_id FROM task_runs WHERE parent_path = 'each' AND state = 'SUCCESS'").all().map((r) => r.task_id)
    }
    const deadline = Date.now() + 60_000
    for (;;) {
      let n = 0
      try { n = succeeded().length } catch { check?.close(); check = undefined /* the child has not created the file or its schema yet */ }
      if (n >= 12) break
      if (Date.now() > deadline) throw new Error('the forEach never got going')
      await Bun.sleep(10) // poll with a deadline
    }
    first.kill('SIGKILL')
    await first.exited
    const before = new Set(succeeded())
    const id = check!.query<{ id: string }, []>('SELECT id FROM executions').get()!.id
    const running = check!.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM task_runs WHERE parent_path = 'each' AND state = 'RUNNING'").get()!.n
    check!.close()
    expect(before.size).toBeGreaterThanOrEqual(12)
    expect(before.size).toBeLessThan(50)
    expect(running).toBeGreaterThan(0)

    const second = child('resume')
    const text = await new Response(second.stdout).text()
    await second.exited
    expect(text).toContain(JSON.stringify({ done: 'SUCCESS', id }))

    const lines = effects(key)
    const count = (t: string) => lines.filter((l) => l.taskId === t).length
    for (const t of before) expect(count(t)).toBe(1) // SUCCESS never runs again
    for (let i = 0; i < 50; i++) expect(count(`each[${i}]`)).toBeGreaterThanOrEqual(1)

    const after = new Database(join(dir, 'test.db'), { readonly: true })
    const outputs = JSON.parse(after.query<{ outputs: string }, [string]>('SELECT outputs FROM executions WHERE id = ?').get(id)!.outputs) as { values: number[] }
    expect(outputs.values).toEqual(Array.from({ length: 50 }, (_, i) => i))
    const audit = after.query<{ task_id: string; type: string }, [string]>('SELECT task_id, type FROM audit_events WHERE execution_id = ? AND task_id IS NOT NULL ORDER BY id').all(id)
    after.close()
    const of = (t: string) => audit.filter((a) => a.task_id === t).map((a) => a.type)
    expect(of('each')).toEqual(['STARTED', 'COMPLETED']) // the parent was started once and left RUNNING by the crash
    for (let i = 0; i < 50; i++) {
      const trail = of(`each[${i}]`)
      expect(trail.filter((x) => x === 'COMPLETED')).toHaveLength(1)
      expect(trail.at(-1)).toBe('COMPLETED')
      expect(trail.filter((x) => x === 'STARTED').length).toBe(trail.includes('RECOVERED') ? 2 : 1)
    }
    expect(audit.some((a) => a.type === 'RECOVERED')).toBe(true)
    // Iterations were first started in index order, across the crash.
    const firstStarts = [...new Set(audit.filter((a) => a.type === 'STARTED' && a.task_id.startsWith('each[')).map((a) => a.task_id))]
    expect(firstStarts).toEqual(Array.from({ length: 50 }, (_, i) => `each[${i}]`))
  }, 120_000)
})
