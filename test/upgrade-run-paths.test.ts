import { afterAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEngine } from '../actors/engine.ts'
import { migrate } from '../runtime/store/sqlite/db.ts'
import { MIGRATIONS } from '../runtime/store/sqlite/migrations.ts'
import { effectKey, effects, testConfig } from './helpers/engine.ts'

// Migration 6 keys task runs by path: an execution a v0.2 engine (schema 5) left half done must resume on the
// new engine, its task ids being paths of depth one and its stored model gaining its tasks' kind.
describe('upgrading a v0.2 database to run paths', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ak-upgrade-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('resumes an execution interrupted under schema 5: SUCCESS runs stay done, the interrupted one runs again, templates still see outputs', async () => {
    const key = effectKey('upgrade')
    const config = testConfig(dir)
    // The model exactly as v0.2 stored it: no `kind` on its tasks.
    const model = {
      id: 'old', enabled: true, inputs: [], secrets: [], triggers: [],
      tasks: [
        { id: 'a', type: 'test/probe.effect', needs: [], inputs: { key, value: 'from-a' } },
        { id: 'b', type: 'test/probe.effect', needs: ['a'], inputs: { key }, retry: { max: 1, backoff: { type: 'fixed', delayMs: 10 } } },
        { id: 'c', type: 'test/probe.effect', needs: ['b'], inputs: { key, value: '{{ tasks.a.output.value }}' } },
      ],
    }
    const old = new Database(config.storage.path, { create: true })
    migrate(old, MIGRATIONS.filter((m) => m.version <= 5))
    old.query(`INSERT INTO workflows (id, source, model, enabled, revision, created_at, updated_at) VALUES ('old', 'id: old', ?, 1, 1, 1, 1)`)
      .run(JSON.stringify(model))
    old.query(`INSERT INTO executions (id, workflow_id, revision, model, state, trigger_type, inputs, created_at, started_at, updated_at)
      VALUES ('ex_old', 'old', 1, ?, 'RUNNING', 'api', '{}', 1, 2, 3)`).run(JSON.stringify(model))
    old.query(`INSERT INTO task_runs (execution_id, task_id, position, state, attempt, output, started_at, ended_at, updated_at) VALUES
      ('ex_old', 'a', 0, 'SUCCESS', 1, '{"attempt":1,"taskId":"a","value":"from-a"}', 2, 3, 3),
      ('ex_old', 'b', 1, 'RUNNING', 1, NULL, 3, NULL, 3),
      ('ex_old', 'c', 2, 'PENDING', 0, NULL, NULL, NULL, 1)`).run()
    old.query(`INSERT INTO task_attempts (execution_id, task_id, attempt, state, runner, started_at) VALUES
      ('ex_old', 'a', 1, 'SUCCESS', 'process', 2), ('ex_old', 'b', 1, 'RUNNING', 'process', 3)`).run()
    old.close()

    const engine = await createEngine({ config })
    try {
      const done = await engine.waitFor('ex_old')
      expect(done.state).toBe('SUCCESS')
      const runs = (await engine.snapshot('ex_old'))!.taskRuns
      expect(runs.map((r) => [r.taskId, r.kind, r.parentPath, r.state, r.attempt])).toEqual([
        ['a', 'plugin', undefined, 'SUCCESS', 1], ['b', 'plugin', undefined, 'SUCCESS', 2], ['c', 'plugin', undefined, 'SUCCESS', 1],
      ])
      expect(runs[2]!.output).toMatchObject({ value: 'from-a' })
      // a's side effect happened under v0.2 (not in this run's file); b ran its second attempt; c ran once.
      expect(effects(key).map((e) => `${e.taskId}:${e.attempt}`)).toEqual(['b:2', 'c:1'])
      expect((await engine.store.workflows.get('old'))!.workflow.tasks.map((t) => t.kind)).toEqual(['plugin', 'plugin', 'plugin'])
    } finally {
      await engine.shutdown({ graceMs: 0 })
    }
  })
})
