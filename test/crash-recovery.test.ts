import { afterAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createEngine } from '../actors/engine.ts'
import { effectKey, effects, testConfig } from './helpers/engine.ts'

const CHILD = resolve(import.meta.dir, 'fixtures/engine-child.ts')

/** Reads the child's stdout as JSON lines until `until` matches one. */
async function readUntil(proc: Bun.Subprocess<'ignore', 'pipe', 'inherit'>, until: (o: Record<string, unknown>) => boolean): Promise<Record<string, unknown>[]> {
  const seen: Record<string, unknown>[] = []
  const reader = proc.stdout.getReader()
  let buf = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    buf += new TextDecoder().decode(value)
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const o = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>
      buf = buf.slice(nl + 1)
      seen.push(o)
      if (until(o)) {
        reader.releaseLock()
        return seen
      }
    }
  }
  return seen
}

const successCount = (db: Database, id: string) =>
  db.query<{ n: number }, [string]>("SELECT COUNT(*) AS n FROM task_runs WHERE execution_id = ? AND state = 'SUCCESS'").get(id)!.n

// Workers are threads of one engine process: recovery must hold with one and with two (issue 11 item 1).
for (const workers of [1, 2]) describe(`crash recovery (execution.workers: ${workers})`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ak-crash-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const child = (d: string, ...args: string[]) =>
    Bun.spawn(['bun', CHILD, d, ...args], { stdout: 'pipe', stderr: 'inherit', stdin: 'ignore', env: { ...process.env, AUTOKESTRA_TEST_WORKERS: String(workers) } })

    it('resumes a 20-task execution after kill -9: it completes, no SUCCESS task runs twice, the audit trail adds up', async () => {
      const key = effectKey('crash')
      const tasks = Array.from({ length: 20 }, (_, i) =>
        `  - { id: t${i}, type: test/probe.effect${i ? `, needs: [t${i - 1}]` : ''}, retry: { max: 2, backoff: { type: fixed, delay: 10ms } }, inputs: { key: ${key}, sleepMs: 40 } }`).join('\n')
      const wfFile = join(dir, 'chain.yaml')
      await Bun.write(wfFile, `id: crash-chain\ntasks:\n${tasks}\n`)

      const first = child(dir, 'start', wfFile)
      const [started] = await readUntil(first, (o) => 'started' in o)
      const id = started!.started as string
      const db = new Database(join(dir, 'test.db'), { readonly: true })
      const deadline = Date.now() + 30_000
      while (successCount(db, id) < 6 && Date.now() < deadline) await Bun.sleep(5) // poll with a deadline
      first.kill('SIGKILL')
      await first.exited

      const succeededBeforeKill = db.query<{ task_id: string }, [string]>(
        "SELECT task_id FROM task_runs WHERE execution_id = ? AND state = 'SUCCESS'").all(id).map((r) => r.task_id)
      expect(succeededBeforeKill.length).toBeGreaterThanOrEqual(6)
      expect(succeededBeforeKill.length).toBeLessThan(20)
      db.close()

      const second = child(dir, 'resume')
      const out = await readUntil(second, (o) => 'done' in o)
      await second.exited
      expect(out[0]).toEqual({ resuming: [id] })
      expect(out.at(-1)).toEqual({ done: 'SUCCESS', id })

      const lines = effects(key)
      const count = (t: string) => lines.filter((l) => l.taskId === t).length
      for (const t of succeededBeforeKill) expect(count(t)).toBe(1)
      for (let i = 0; i < 20; i++) expect(count(`t${i}`)).toBeGreaterThanOrEqual(1)

      const check = new Database(join(dir, 'test.db'), { readonly: true })
      const runs = check.query<{ task_id: string; state: string; attempt: number }, [string]>('SELECT task_id, state, attempt FROM task_runs WHERE execution_id = ?').all(id)
      expect(runs.every((r) => r.state === 'SUCCESS')).toBe(true)
      const audit = check.query<{ type: string; task_id: string | null }, [string]>('SELECT type, task_id FROM audit_events WHERE execution_id = ? ORDER BY id').all(id)
      for (const r of runs) {
        const mine = audit.filter((a) => a.task_id === r.task_id)
        expect(mine.filter((a) => a.type === 'STARTED')).toHaveLength(r.attempt)
        expect(mine.filter((a) => a.type === 'COMPLETED')).toHaveLength(1)
      }
      const execEvents = audit.filter((a) => a.task_id === null).map((a) => a.type)
      // The takeover by the second engine is on the record, between the start and the end.
      expect(execEvents).toEqual(['CREATED', 'STARTED', 'CLAIMED', 'COMPLETED'])
      check.close()
    }, 90_000)

    it('a second engine on the same database leaves the live execution of the first alone', async () => {
      const shared = mkdtempSync(join(tmpdir(), 'ak-two-'))
      const key = effectKey('two')
      const tasks = Array.from({ length: 6 }, (_, i) =>
        `  - { id: t${i}, type: test/probe.effect${i ? `, needs: [t${i - 1}]` : ''}, inputs: { key: ${key}, sleepMs: 60 } }`).join('\n')
      const wfFile = join(shared, 'chain.yaml')
      await Bun.write(wfFile, `id: shared-chain\ntasks:\n${tasks}\n`)
      const first = child(shared, 'start', wfFile)
      const [started] = await readUntil(first, (o) => 'started' in o)
      const id = started!.started as string
      // A second engine opens the same file while the first is mid-way: it must not recover (steal) that execution.
      const second = await createEngine({ config: testConfig(shared, { WORKFLOW_EXECUTION_WORKERS: String(workers) }) })
      expect(second.stats().queuedExecutions + second.stats().runningExecutions).toBe(0)
      const firstDone = await first.exited
      expect(firstDone).toBe(0)
      const rec = (await second.store.executions.get(id))!
      expect(rec.state).toBe('SUCCESS')
      expect(effects(key).map((l) => l.taskId)).toEqual(['t0', 't1', 't2', 't3', 't4', 't5'])
      expect((await second.store.audit.forExecution(id)).some((a) => a.type === 'RECOVERED')).toBe(false)
      await second.shutdown({ graceMs: 0 })
      rmSync(shared, { recursive: true, force: true })
    }, 60_000)
})
