/**
 * Crash = restart with conditions and outputs: `kill -9` of a child-process engine in the middle of a run whose
 * branch was skipped by `if:`, then a restart on the same SQLite file. The skips stand as they were committed
 * (decided once, never again), no SUCCESS task runs twice, the dependents of the skip follow the rule, and the
 * outputs are rendered at the end.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { EFFECTS_DIR, effectKey, effects } from './helpers/engine.ts'

const CHILD = resolve(import.meta.dir, 'fixtures/engine-child.ts')
const dir = mkdtempSync(join(tmpdir(), 'ak-cf-crash-'))
const key = effectKey('cf-crash')
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
  for (const f of [key, `${key}.started`]) rmSync(join(EFFECTS_DIR, f), { force: true })
})

const child = (...args: string[]) => Bun.spawn(['bun', CHILD, dir, ...args], { stdout: 'pipe', stderr: 'inherit', stdin: 'ignore' })

/** The child's JSON lines until `until` matches one. */
async function readUntil(proc: Bun.Subprocess<'ignore', 'pipe', 'inherit'>, until: (o: Record<string, unknown>) => boolean): Promise<Record<string, unknown>[]> {
  const seen: Record<string, unknown>[] = []
  const reader = proc.stdout.getReader()
  let buf = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return seen
    buf += new TextDecoder().decode(value)
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const o = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>
      buf = buf.slice(nl + 1)
      seen.push(o)
      if (until(o)) {
        reader.releaseLock()
        return seen
      }
    }
  }
}

describe('crash recovery with if: and outputs', () => {
  it('resumes after kill -9: skips stand as committed, no SUCCESS task runs twice, outputs are rendered', async () => {
    const chain = Array.from({ length: 8 }, (_, i) => `  - { id: t${i}, type: test/probe.effect, needs: [${i ? `t${i - 1}` : 'gate'}]${i ? '' : ', if: tasks.gate.state == "SKIPPED"'}, retry: { max: 2, backoff: { type: fixed, delay: 10ms } }, inputs: { key: ${key}, sleepMs: 40, value: ${i} } }`).join('\n')
    const wfFile = join(dir, 'wf.yaml')
    await Bun.write(wfFile, `id: cf-crash
outputs:
  last: "{{ tasks.t7.output.value }}"
  gate: "{{ tasks.gate.state }}"
  branch: "{{ tasks.branch.state }}"
tasks:
  - { id: gate, type: test/probe.effect, if: "false", inputs: { key: ${key} } }
  - { id: branch, type: test/probe.effect, needs: [gate], inputs: { key: ${key} } }
${chain}
`)
    const first = child('start', wfFile)
    const [started] = await readUntil(first, (o) => 'started' in o)
    const id = started!.started as string
    const db = new Database(join(dir, 'test.db'), { readonly: true })
    const succeeded = () => db.query<{ task_id: string }, [string]>("SELECT task_id FROM task_runs WHERE execution_id = ? AND state = 'SUCCESS'").all(id).map((r) => r.task_id)
    const deadline = Date.now() + 30_000
    while (succeeded().length < 3 && Date.now() < deadline) await Bun.sleep(5) // poll with a deadline
    first.kill('SIGKILL')
    await first.exited
    const before = succeeded()
    expect(before.length).toBeGreaterThanOrEqual(3)
    expect(before.length).toBeLessThan(8)
    db.close()

    const second = child('resume')
    const out = await readUntil(second, (o) => 'done' in o)
    await second.exited
    expect(out.at(-1)).toEqual({ done: 'SUCCESS', id })

    const lines = effects(key)
    const count = (t: string) => lines.filter((l) => l.taskId === t).length
    expect(count('gate')).toBe(0)
    expect(count('branch')).toBe(0)
    for (const t of before) expect(count(t)).toBe(1)
    for (let i = 0; i < 8; i++) expect(count(`t${i}`)).toBeGreaterThanOrEqual(1)

    const check = new Database(join(dir, 'test.db'), { readonly: true })
    const runs = Object.fromEntries(check.query<{ task_id: string; state: string; reason: string | null }, [string]>(
      'SELECT task_id, state, reason FROM task_runs WHERE execution_id = ?').all(id).map((r) => [r.task_id, r.reason ? `${r.state} ${r.reason}` : r.state]))
    expect(runs).toMatchObject({ gate: 'SKIPPED CONDITION_FALSE', branch: 'SKIPPED DEPENDENCY_SKIPPED', t0: 'SUCCESS', t7: 'SUCCESS' })
    // Each skip was decided and committed once: the restart did not decide again.
    const skips = check.query<{ task_id: string }, [string]>(
      "SELECT task_id FROM audit_events WHERE execution_id = ? AND json_extract(data, '$.to') = 'SKIPPED'").all(id).map((r) => r.task_id)
    expect(skips.sort()).toEqual(['branch', 'gate'])
    const row = check.query<{ outputs: string }, [string]>('SELECT outputs FROM executions WHERE id = ?').get(id)!
    expect(JSON.parse(row.outputs)).toEqual({ last: 7, gate: 'SKIPPED', branch: 'SKIPPED' })
    check.close()
  }, 90_000)
})
