/**
 * kill -9 between one task's SUCCESS and the start of the next (issue 14: one commit per task). A step that ends task
 * N commits N's SUCCESS and, when a task slot is free at once, N+1's RUNNING in one transaction; N+1's process starts
 * only after that. So the crash leaves N SUCCESS and N+1 either RUNNING with none of its work done (it is retried,
 * its work done once) or waiting for a slot (it starts fresh); N never runs again. At every isolation level.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ChildLines, pollUntil } from './helpers/child-engine.ts'
import { EFFECTS_DIR, effectKey, effects, runWorkflow, startTestEngine } from './helpers/engine.ts'

const CHILD = resolve(import.meta.dir, 'fixtures/engine-child.ts')

/** The attempts that began their work under `key` (`taskId:attempt`), as the plugins recorded them. */
const startedAttempts = (key: string): string[] => {
  const file = join(EFFECTS_DIR, `${key}.started`)
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(':').slice(0, 2).join(':')) : []
}

interface Run { task_id: string; state: string; attempt: number; reason: string | null }
const runsOf = (db: Database, id: string): Record<string, Run> =>
  Object.fromEntries(db.query<Run, [string]>('SELECT task_id, state, attempt, reason FROM task_runs WHERE execution_id = ?').all(id).map((r) => [r.task_id, r]))

describe('kill -9 between a task\'s SUCCESS and the next task\'s start', () => {
  const root = mkdtempSync(join(tmpdir(), 'ak-commit-crash-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  const child = (d: string, configEnv: Record<string, string>, ...args: string[]) =>
    Bun.spawn(['bun', CHILD, d, ...args], {
      stdout: 'pipe', stderr: 'inherit', stdin: 'ignore', env: { ...process.env, AUTOKESTRA_TEST_CONFIG_ENV: JSON.stringify(configEnv) },
    })

  /** Starts `yaml` in a child engine, kills it -9 once `at` holds of the stored runs, resumes it in another; both views. */
  async function crashAndResume(level: string, yaml: string, at: (runs: Record<string, Run>) => boolean, configEnv: Record<string, string> = {}) {
    const dataDir = mkdtempSync(join(root, `${level}-`))
    const wfFile = join(dataDir, 'wf.yaml')
    await Bun.write(wfFile, yaml)
    const first = child(dataDir, configEnv, 'start', wfFile)
    const [started] = await new ChildLines(first).until((o) => 'started' in o)
    const id = started!.started as string
    const db = new Database(join(dataDir, 'test.db'), { readonly: true })
    let atKill: Record<string, Run> = {}
    try {
      atKill = await pollUntil(() => {
        const runs = runsOf(db, id)
        return at(runs) ? runs : undefined
      }, 60_000, 'the state to kill in')
      first.kill('SIGKILL')
      await first.exited
      // What the store held once the engine was dead (nothing was written after the poll saw it: re-read).
      atKill = runsOf(db, id)
    } finally {
      db.close()
    }
    const second = child(dataDir, configEnv, 'resume')
    const out = await new ChildLines(second).until((o) => 'done' in o)
    await second.exited
    expect(out[0]).toEqual({ resuming: [id] })
    expect(out.at(-1)).toEqual({ done: 'SUCCESS', id })
    const check = new Database(join(dataDir, 'test.db'), { readonly: true })
    const after = runsOf(check, id)
    const audit = check.query<{ type: string; task_id: string | null }, [string]>('SELECT type, task_id FROM audit_events WHERE execution_id = ? ORDER BY id').all(id)
    check.close()
    return { atKill, after, audit }
  }

  for (const level of ['attempt', 'execution', 'workflow']) {
    it(`at ${level}: N's SUCCESS and N+1's RUNNING are committed before N+1 works; N never runs again, N+1's work is done once`, async () => {
      const key = effectKey(`commit-crash-${level}`)
      // b's plugin takes 1.5 s to load: the engine is killed after b's RUNNING and before b's action runs.
      const yaml = `id: commit-crash-${level}\nisolation: ${level}\ntasks:
  - { id: a, type: test/probe.effect, inputs: { key: ${key} } }
  - { id: b, type: test/slow-start.effect, needs: [a], retry: { max: 1, backoff: { type: fixed, delay: 10ms } }, inputs: { key: ${key} } }
  - { id: c, type: test/probe.effect, needs: [b], inputs: { key: ${key} } }
`
      const { atKill, after, audit } = await crashAndResume(level, yaml, (r) => r.b?.state === 'RUNNING')
      // The kill came in the window: a had succeeded, b was RUNNING and none of its work had begun.
      expect(atKill.a?.state).toBe('SUCCESS')
      expect(atKill.b).toMatchObject({ state: 'RUNNING', attempt: 1 })
      expect(atKill.c?.state ?? 'PENDING').toBe('PENDING')
      const began = startedAttempts(key)
      expect(began.filter((s) => s.startsWith('b:'))).toEqual(['b:2']) // b's interrupted attempt did nothing; its retry did it all
      expect(began.filter((s) => s.startsWith('a:'))).toEqual(['a:1']) // a never ran again
      const lines = effects(key)
      expect(lines.map((l) => `${l.taskId}:${l.attempt}`)).toEqual(['a:1', 'b:2', 'c:1'])
      expect(Object.values(after).every((r) => r.state === 'SUCCESS')).toBe(true)
      expect(after.b?.attempt).toBe(2)
      // a: one start and one completion; b: the attempt the crash interrupted and its retry.
      expect(audit.filter((e) => e.task_id === 'a').map((e) => e.type)).toEqual(['STARTED', 'COMPLETED'])
      expect(audit.filter((e) => e.task_id === 'b' && e.type === 'STARTED')).toHaveLength(2)
    }, 120_000)

    it(`at ${level}: killed while N+1 waits for a task slot after N's SUCCESS, N+1 starts once after the restart`, async () => {
      const key = effectKey(`slot-crash-${level}`)
      // One task slot: when a ends, the slot passes to hog (waiting since the start), so b waits for it.
      const yaml = `id: slot-crash-${level}\nisolation: ${level}\ntasks:
  - { id: a, type: test/probe.effect, inputs: { key: ${key}, sleepMs: 50 } }
  - { id: hog, type: test/probe.effect, retry: { max: 1, backoff: { type: fixed, delay: 10ms } }, inputs: { key: ${key}, sleepMs: 1500 } }
  - { id: b, type: test/probe.effect, needs: [a], inputs: { key: ${key} } }
`
      const { atKill, after } = await crashAndResume(level, yaml,
        (r) => r.a?.state === 'SUCCESS' && r.b?.state === 'WAITING' && r.hog?.state === 'RUNNING',
        { WORKFLOW_EXECUTION_MAX_CONCURRENT_TASKS: '1' })
      expect(atKill.b).toMatchObject({ state: 'WAITING', reason: 'CONCURRENCY_LIMIT' })
      const began = startedAttempts(key)
      expect(began.filter((s) => s.startsWith('a:'))).toEqual(['a:1'])
      expect(began.filter((s) => s.startsWith('b:'))).toHaveLength(1)
      const lines = effects(key)
      expect(lines.filter((l) => l.taskId === 'a')).toHaveLength(1)
      expect(lines.filter((l) => l.taskId === 'b')).toHaveLength(1)
      expect(Object.values(after).every((r) => r.state === 'SUCCESS')).toBe(true)
    }, 120_000)
  }
})

describe('one commit per task in a chain', () => {
  it('commits each task\'s SUCCESS with the next task\'s RUNNING, in one batch of the store', async () => {
    const t = await startTestEngine()
    try {
      // What each commit of the store carried: the task transitions of its requests.
      const batches: string[][] = []
      const store = t.engine.store
      const commit = store.commit.bind(store)
      store.commit = (batch) => {
        batches.push(batch.requests.flatMap((r) => r.transitions.flatMap((x) => (x.kind === 'task' ? [`${x.taskId}:${x.to}`] : []))))
        return commit(batch)
      }
      const key = effectKey('one-commit')
      const tasks = Array.from({ length: 5 }, (_, i) => `  - { id: t${i}, type: test/probe.effect${i ? `, needs: [t${i - 1}]` : ''}, inputs: { key: ${key} } }`).join('\n')
      const { done } = await runWorkflow(t, `id: one-commit\nisolation: execution\ntasks:\n${tasks}\n`)
      expect(done.state).toBe('SUCCESS')
      for (let i = 0; i < 4; i++) expect(batches).toContainEqual([`t${i}:SUCCESS`, `t${i + 1}:RUNNING`])
    } finally {
      await t.close()
    }
  }, 60_000)
})
