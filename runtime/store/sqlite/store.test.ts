/**
 * What is SQLite's own in the SQLite backend: migrations (WAL, idempotence, migration 3's digests, indexes) and
 * SQLite's fault codes. What every backend must do is the contract (runtime/store/contract.ts, contract.test.ts).
 */

import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Workflow } from '../../workflow/model.ts'
import { hashWebhookKey, webhookKeyRecord } from '../webhook-keys.ts'
import { migrate, openDatabase, schemaVersion } from './db.ts'
import { MIGRATIONS } from './migrations.ts'
import { openSqliteStore, type SqliteStore } from './store.ts'

const wf: Workflow = {
  id: 'demo', enabled: true, inputs: [], secrets: [], triggers: [],
  tasks: [
    { id: 'a', kind: 'plugin', type: 'core/log.info', needs: [], inputs: { message: 'hi' } },
    { id: 'b', kind: 'plugin', type: 'core/log.info', needs: ['a'], inputs: {} },
  ],
}

let dir: string
let store: SqliteStore
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ak-store-'))
  store = openSqliteStore(join(dir, 'sub', 'test.db'))
})
afterEach(async () => {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('migrations', () => {
  it('creates the schema on an empty file, in WAL mode', () => {
    expect(schemaVersion(store.db)).toBe(Math.max(...MIGRATIONS.map((m) => m.version)))
    const mode = store.db.query<{ journal_mode: string }, []>('PRAGMA journal_mode').get()
    expect(mode?.journal_mode).toBe('wal')
    const tables = store.db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type='table'").all().map((r) => r.name)
    for (const t of ['workflows', 'executions', 'task_runs', 'task_attempts', 'logs', 'audit_events', 'secrets', 'cron_fires'])
      expect(tables).toContain(t)
  })
  it('is idempotent when run again and when the file is reopened', () => {
    expect(migrate(store.db)).toEqual([])
    const again = openDatabase(join(dir, 'sub', 'test.db'))
    expect(schemaVersion(again)).toBe(Math.max(...MIGRATIONS.map((m) => m.version)))
    const n = again.query<{ n: number }, []>('SELECT COUNT(*) AS n FROM schema_migrations').get()!.n
    expect(n).toBe(MIGRATIONS.length)
    again.close()
  })
  it('migration 3 replaces clear webhook keys with their digest: old keys still match, no clear key stays in the file or WAL', async () => {
    const path = join(dir, 'v2.db')
    const old = new Database(path, { create: true })
    old.exec('PRAGMA journal_mode = WAL')
    migrate(old, MIGRATIONS.filter((m) => m.version <= 2))
    const key = 'Kq3v-clear-webhook-key-0123456789'
    old.query(`INSERT INTO workflows (id, source, model, enabled, revision, webhook_key, created_at, updated_at)
      VALUES ('hook', 'id: hook', ?, 1, 1, ?, 500, 600)`).run(JSON.stringify({ ...wf, id: 'hook' }), key)
    old.query(`INSERT INTO workflows (id, source, model, enabled, revision, webhook_key, created_at, updated_at)
      VALUES ('plain', 'id: plain', ?, 1, 1, NULL, 700, 700)`).run(JSON.stringify({ ...wf, id: 'plain' }))
    const bytes = () => [path, `${path}-wal`].map((f) => { try { return readFileSync(f) } catch { return Buffer.alloc(0) } })
    expect(bytes().some((b) => b.includes(key))).toBe(true) // the v0.1 file holds the key in clear
    old.close()
    const upgraded = openSqliteStore(path)
    try {
      expect(schemaVersion(upgraded.db)).toBe(Math.max(...MIGRATIONS.map((m) => m.version)))
      expect((await upgraded.workflows.get('hook'))!.webhookKey).toEqual(webhookKeyRecord(key, 500))
      expect((await upgraded.workflows.get('hook'))!.webhookKey!.hash).toBe(hashWebhookKey(key))
      expect((await upgraded.workflows.get('plain'))!.webhookKey).toBeUndefined()
      expect(await upgraded.workflows.get('hook')).toMatchObject({ revision: 1, createdAt: 500, updatedAt: 600, enabled: true })
      const columns = upgraded.db.query<{ name: string }, []>('PRAGMA table_info(workflows)').all().map((c) => c.name)
      expect(columns).not.toContain('webhook_key')
      for (const b of bytes()) expect(b.includes(key)).toBe(false)
    } finally {
      await upgraded.close()
    }
  })
  it('migration 6 keys task runs by path: v0.2 rows are paths of depth one, with kind plugin, and stored models gain kinds', async () => {
    const path = join(dir, 'v5.db')
    const old = new Database(path, { create: true })
    migrate(old, MIGRATIONS.filter((m) => m.version <= 5))
    // The model as v0.1/v0.2 stored it: tasks without `kind`.
    const v02 = JSON.stringify({ ...wf, tasks: wf.tasks.map(({ kind: _, ...t }) => t) })
    old.query(`INSERT INTO workflows (id, source, model, enabled, revision, created_at, updated_at) VALUES ('demo', 'id: demo', ?, 1, 1, 1, 1)`).run(v02)
    old.query(`INSERT INTO executions (id, workflow_id, revision, model, state, trigger_type, inputs, created_at, updated_at)
      VALUES ('ex1', 'demo', 1, ?, 'RUNNING', 'api', '{}', 1, 1)`).run(v02)
    old.query(`INSERT INTO task_runs (execution_id, task_id, position, state, attempt, output, updated_at) VALUES
      ('ex1', 'a', 0, 'SUCCESS', 1, '{"x":1}', 1), ('ex1', 'b', 1, 'PENDING', 0, NULL, 1)`).run()
    old.close()
    const upgraded = openSqliteStore(path)
    try {
      expect(schemaVersion(upgraded.db)).toBe(Math.max(...MIGRATIONS.map((m) => m.version)))
      const snap = (await upgraded.executions.snapshot('ex1'))!
      expect(snap.workflow).toEqual(wf)
      expect((await upgraded.workflows.get('demo'))!.workflow).toEqual(wf)
      expect(snap.taskRuns.map((r) => [r.taskId, r.kind, r.parentPath, r.iteration, r.state])).toEqual([
        ['a', 'plugin', undefined, undefined, 'SUCCESS'], ['b', 'plugin', undefined, undefined, 'PENDING'],
      ])
      expect(snap.taskRuns[0]!.output).toEqual({ x: 1 })
    } finally {
      await upgraded.close()
    }
  })
  it('migration 14 keeps each workflow\'s current YAML as its revision; the next apply adds one', async () => {
    const path = join(dir, 'v13.db')
    const old = new Database(path, { create: true })
    migrate(old, MIGRATIONS.filter((m) => m.version <= 13))
    old.query(`INSERT INTO workflows (id, source, model, enabled, revision, created_at, updated_at) VALUES ('demo', 'id: demo', ?, 1, 4, 1, 40)`).run(JSON.stringify(wf))
    old.close()
    const upgraded = openSqliteStore(path)
    try {
      expect(await upgraded.workflows.revisions('demo')).toEqual([{ revision: 4, createdAt: 40, bytes: 8 }])
      await upgraded.workflows.upsert(wf, 'id: demo\n', 50)
      expect((await upgraded.workflows.revisions('demo'))!.map((r) => r.revision)).toEqual([5, 4])
      expect((await upgraded.workflows.revision('demo', 4))?.source).toBe('id: demo')
    } finally {
      await upgraded.close()
    }
  })
  it('migration 15 keeps an older engine\'s lease row, with no version (shown as unknown)', async () => {
    const path = join(dir, 'v14.db')
    const old = new Database(path, { create: true })
    migrate(old, MIGRATIONS.filter((m) => m.version <= 14))
    old.query(`INSERT INTO engines (id, host, pid, started_at, heartbeat_at, lease_until) VALUES ('old', 'h', 7, 1, 2, 3)`).run()
    old.close()
    const upgraded = openSqliteStore(path)
    try {
      expect(await upgraded.engines.list()).toEqual([{ id: 'old', host: 'h', pid: 7, startedAt: 1, heartbeatAt: 2, leaseUntil: 3 }])
    } finally {
      await upgraded.close()
    }
  })
  it('has the indexes the API queries need', () => {
    const plan = store.db.query<{ detail: string }, []>(
      "EXPLAIN QUERY PLAN SELECT * FROM logs WHERE execution_id = 'x' AND level IN ('WARN') ORDER BY id DESC LIMIT 10").all()
    expect(plan.map((p) => p.detail).join(' ')).toContain('USING INDEX')
    const plan2 = store.db.query<{ detail: string }, []>(
      "EXPLAIN QUERY PLAN SELECT * FROM executions WHERE workflow_id = 'x' ORDER BY created_at DESC LIMIT 10").all()
    expect(plan2.map((p) => p.detail).join(' ')).toContain('executions_by_workflow')
    // The label filter and the concurrency count (issue 13) probe their indexes, not the executions table.
    const detail = (sql: string) => store.db.query<{ detail: string }, []>(`EXPLAIN QUERY PLAN ${sql}`).all().map((p) => p.detail).join(' ')
    const byLabel = detail("SELECT e.* FROM execution_labels l JOIN executions e ON e.id = l.execution_id WHERE l.key = 'team' AND l.value = 'data' ORDER BY l.created_at DESC, l.execution_id DESC LIMIT 10")
    expect(byLabel).toContain('execution_labels_by_value')
    expect(byLabel).not.toContain('TEMP B-TREE') // walks the index in order: a page costs the page
    expect(detail(`SELECT id FROM executions WHERE workflow_id = 'x' AND state IN ('PENDING', 'RUNNING', 'WAITING') ORDER BY created_at, id`))
      .toContain('executions_active_by_workflow')
    expect(detail("SELECT id FROM executions WHERE owner = 'e' AND cancel_requested IS NOT NULL AND state IN ('PENDING', 'RUNNING', 'WAITING')"))
      .toContain('executions_cancel_requested')
  })
})

describe('storage faults', () => {
  it('a write the store refuses (disk full) rejects with STORAGE_UNAVAILABLE, changes nothing, and health is degraded until a write succeeds', async () => {
    const events: string[] = []
    store.health.subscribe((e) => events.push(e.type))
    const pages = store.db.query<{ page_count: number }, []>('PRAGMA page_count').get()!.page_count
    // SQLite's own size cap: past it, every growing write fails with SQLITE_FULL, as on a full disk.
    store.db.exec(`PRAGMA max_page_count = ${pages}`)
    const grow = () => store.commit({ at: 1, requests: [], logs: Array.from({ length: 200 }, (_, i) => ({
      executionId: 'x', ts: i, level: 'INFO', source: 'engine', message: 'a line long enough to need new pages '.repeat(4),
    })) })
    for (let i = 0; i < 3; i++) {
      const thrown = await grow().catch((e: unknown) => e)
      expect(thrown).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retryable: true, details: { sqlite: 'SQLITE_FULL' } })
    }
    expect(await store.logs.count()).toBe(0)
    expect(store.health.status()).toMatchObject({ writable: false, code: 'SQLITE_FULL', failedCommits: 3 })
    store.db.exec('PRAGMA max_page_count = 1073741823')
    await grow()
    expect(await store.logs.count()).toBe(200)
    expect(store.health.status()).toEqual({ writable: true })
    expect(events).toEqual(['degraded', 'recovered']) // once per burst, not once per failed commit
  })

  it('passes other errors through untouched (a constraint is not a storage fault): the request fails alone', async () => {
    // A trigger stands in for a constraint the database enforces (SQLITE_CONSTRAINT_TRIGGER).
    store.db.exec("CREATE TRIGGER refuse BEFORE INSERT ON executions WHEN NEW.id = 'dup' BEGIN SELECT RAISE(ABORT, 'refused'); END")
    const create = (id: string) => ({ transitions: [{ kind: 'create' as const, executionId: id, workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' as const } }] })
    const { results } = await store.commit({ at: 1, requests: [create('dup'), create('ok')] })
    expect(results[0]![0]).toMatchObject({ ok: false, error: { code: 'INTERNAL', message: 'refused' } })
    expect(results[1]![0]).toEqual({ ok: true, changed: true })
    expect(await store.executions.get('dup')).toBeUndefined()
    expect(store.health.status()).toEqual({ writable: true })
  })
})
