import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Workflow } from '../../workflow/model.ts'
import { migrate, openDatabase, schemaVersion } from './db.ts'
import { MIGRATIONS } from './migrations.ts'
import { openStore, type Store } from './legacy.ts'
import { hashWebhookKey, webhookKeyRecord } from '../webhook-keys.ts'

const wf: Workflow = {
  id: 'demo', enabled: true, inputs: [], secrets: [], triggers: [],
  tasks: [
    { id: 'a', type: 'core/log.info', needs: [], inputs: { message: 'hi' } },
    { id: 'b', type: 'core/log.info', needs: ['a'], inputs: {} },
  ],
}

let dir: string
let store: Store
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ak-store-'))
  store = openStore(join(dir, 'sub', 'test.db'))
})
afterEach(() => {
  store.close()
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
  it('migration 3 replaces clear webhook keys with their digest: old keys still match, no clear key stays in the file or WAL', () => {
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
    const upgraded = openStore(path)
    try {
      expect(schemaVersion(upgraded.db)).toBe(Math.max(...MIGRATIONS.map((m) => m.version)))
      expect(upgraded.workflows.get('hook')!.webhookKey).toEqual(webhookKeyRecord(key, 500))
      expect(upgraded.workflows.get('hook')!.webhookKey!.hash).toBe(hashWebhookKey(key))
      expect(upgraded.workflows.get('plain')!.webhookKey).toBeUndefined()
      expect(upgraded.workflows.get('hook')).toMatchObject({ revision: 1, createdAt: 500, updatedAt: 600, enabled: true })
      const columns = upgraded.db.query<{ name: string }, []>('PRAGMA table_info(workflows)').all().map((c) => c.name)
      expect(columns).not.toContain('webhook_key')
      for (const b of bytes()) expect(b.includes(key)).toBe(false)
    } finally {
      upgraded.close()
    }
  })
  it('has the indexes the API queries need', () => {
    const plan = store.db.query<{ detail: string }, []>(
      "EXPLAIN QUERY PLAN SELECT * FROM logs WHERE execution_id = 'x' AND level IN ('WARN') ORDER BY id DESC LIMIT 10").all()
    expect(plan.map((p) => p.detail).join(' ')).toContain('USING INDEX')
    const plan2 = store.db.query<{ detail: string }, []>(
      "EXPLAIN QUERY PLAN SELECT * FROM executions WHERE workflow_id = 'x' ORDER BY created_at DESC LIMIT 10").all()
    expect(plan2.map((p) => p.detail).join(' ')).toContain('executions_by_workflow')
  })
})

describe('repositories', () => {
  it('round-trips a workflow and bumps the revision only when the source changes', () => {
    const first = store.workflows.upsert(wf, 'id: demo', 1000)
    expect(first.created).toBe(true)
    expect(store.workflows.get('demo')).toEqual(first.record)
    expect(first.record.workflow).toEqual(wf)
    expect(store.workflows.upsert(wf, 'id: demo', 2000).record.revision).toBe(1)
    const changed = store.workflows.upsert(wf, 'id: demo\n', 3000)
    expect(changed.record.revision).toBe(2)
    expect(changed.record.updatedAt).toBe(3000)
    expect(store.workflows.setEnabled('demo', false, 4000)?.enabled).toBe(false)
    expect(store.workflows.list().total).toBe(1)
    expect(store.workflows.delete('demo')).toBe(true)
    expect(store.workflows.get('demo')).toBeUndefined()
  })

  it('creates an execution with its task runs and reads it back', () => {
    store.transaction(() => store.executions.insert({ id: 'ex1', workflow: wf, revision: 1, inputs: { n: 1 }, trigger: { type: 'manual' }, now: 10 }))
    const snap = store.executions.snapshot('ex1')!
    expect(snap.execution.state).toBe('PENDING')
    expect(snap.execution.inputs).toEqual({ n: 1 })
    expect(snap.execution.trigger).toEqual({ type: 'manual' })
    expect(snap.workflow).toEqual(wf)
    expect(snap.taskRuns.map((t) => [t.taskId, t.state, t.attempt])).toEqual([['a', 'PENDING', 0], ['b', 'PENDING', 0]])
  })

  it('commits transitions with their audit events, rejects invalid ones and ignores repeats', () => {
    store.transaction(() => store.executions.insert({ id: 'ex1', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' }, now: 10 }))
    const results = store.checkpoints.apply([
      { kind: 'execution', executionId: 'ex1', to: 'RUNNING' },
      { kind: 'task', executionId: 'ex1', taskId: 'a', to: 'RUNNING', attempt: 1, runner: 'process' },
      { kind: 'task', executionId: 'ex1', taskId: 'a', to: 'RUNNING', attempt: 1 },
      { kind: 'task', executionId: 'ex1', taskId: 'b', to: 'SUCCESS' },
    ], 20)
    expect(results.map((r) => r.ok && r.changed)).toEqual([true, true, false, false])
    expect(results[3]).toMatchObject({ ok: false, error: { code: 'INVALID_TRANSITION' } })
    store.checkpoints.apply([
      { kind: 'task', executionId: 'ex1', taskId: 'a', to: 'SUCCESS', output: { x: 1 } },
      { kind: 'task', executionId: 'ex1', taskId: 'b', to: 'SKIPPED' },
      { kind: 'execution', executionId: 'ex1', to: 'FAILED', error: { code: 'PLUGIN_ERROR', message: 'boom' } },
    ], 30)
    const after = store.checkpoints.apply([{ kind: 'execution', executionId: 'ex1', to: 'RUNNING' }], 40)
    expect(after[0]).toMatchObject({ ok: false, error: { code: 'INVALID_TRANSITION' } })
    const snap = store.executions.snapshot('ex1')!
    expect(snap.execution).toMatchObject({ state: 'FAILED', startedAt: 20, endedAt: 30, error: { code: 'PLUGIN_ERROR' } })
    expect(snap.taskRuns[0]).toMatchObject({ state: 'SUCCESS', output: { x: 1 }, attempt: 1, startedAt: 20, endedAt: 30 })
    expect(snap.taskRuns[0]!.attempts).toEqual([{ attempt: 1, state: 'SUCCESS', runner: 'process', startedAt: 20, endedAt: 30 }])
    const audit = store.audit.forExecution('ex1').map((a) => [a.type, a.taskId ?? null])
    expect(audit).toEqual([['STARTED', null], ['STARTED', 'a'], ['COMPLETED', 'a'], ['STATE_CHANGE', 'b'], ['FAILED', null]])
  })

  it('pages logs newest first with task, level and time filters', () => {
    store.transaction(() => store.executions.insert({ id: 'ex1', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' }, now: 10 }))
    store.logs.append(Array.from({ length: 10 }, (_, i) => ({
      executionId: 'ex1', taskId: i % 2 ? 'a' : 'b', attempt: 1, ts: 100 + i, level: i % 3 ? 'INFO' : 'WARN',
      source: 'plugin:core/log.info', message: `line ${i}`,
    })))
    const first = store.logs.list({ executionId: 'ex1', limit: 3 })
    expect(first.items.map((l) => l.message)).toEqual(['line 9', 'line 8', 'line 7'])
    expect(first.hasMore).toBe(true)
    expect(store.logs.list({ executionId: 'ex1', limit: 3, offset: 9 }).hasMore).toBe(false)
    expect(store.logs.list({ executionId: 'ex1', taskId: 'a' }).items.every((l) => l.taskId === 'a')).toBe(true)
    expect(store.logs.list({ executionId: 'ex1', levels: ['WARN'] }).items.map((l) => l.message)).toEqual(['line 9', 'line 6', 'line 3', 'line 0'])
    expect(store.logs.list({ executionId: 'ex1', since: 108 }).items).toHaveLength(2)
  })

  it('lists executions by workflow and state with a total', () => {
    store.transaction(() => {
      for (let i = 0; i < 5; i++)
        store.executions.insert({ id: `ex${i}`, workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' }, now: i })
    })
    store.checkpoints.apply([{ kind: 'execution', executionId: 'ex1', to: 'RUNNING' }], 9)
    const page = store.executions.list({ workflowId: 'demo', limit: 2 })
    expect(page.total).toBe(5)
    expect(page.items.map((e) => e.id)).toEqual(['ex4', 'ex3'])
    expect(store.executions.list({ states: ['RUNNING'] }).items.map((e) => e.id)).toEqual(['ex1'])
    expect(store.executions.listActive().map((e) => e.id)).toEqual(['ex0', 'ex1', 'ex2', 'ex3', 'ex4'])
  })
})

describe('storage faults', () => {
  it('a write the store refuses (disk full) throws STORAGE_UNAVAILABLE, changes nothing, and health is degraded until a write succeeds', () => {
    const events: string[] = []
    store.health.subscribe((e) => events.push(e.type))
    const pages = store.db.query<{ page_count: number }, []>('PRAGMA page_count').get()!.page_count
    // SQLite's own size cap: past it, every growing write fails with SQLITE_FULL, as on a full disk.
    store.db.exec(`PRAGMA max_page_count = ${pages}`)
    const grow = () => store.transaction(() => store.logs.append(Array.from({ length: 200 }, (_, i) => ({
      executionId: 'x', ts: i, level: 'INFO', source: 'engine', message: 'a line long enough to need new pages '.repeat(4),
    }))))
    for (let i = 0; i < 3; i++) {
      let thrown: unknown
      try { grow() } catch (e) { thrown = e }
      expect(thrown).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retryable: true, details: { sqlite: 'SQLITE_FULL' } })
    }
    expect(store.logs.count()).toBe(0)
    expect(store.health.status()).toMatchObject({ writable: false, code: 'SQLITE_FULL', failedCommits: 3 })
    store.db.exec('PRAGMA max_page_count = 1073741823')
    grow()
    expect(store.logs.count()).toBe(200)
    expect(store.health.status()).toEqual({ writable: true })
    expect(events).toEqual(['degraded', 'recovered']) // once per burst, not once per failed commit
  })

  it('passes other errors through untouched (a constraint is not a storage fault)', () => {
    store.transaction(() => store.executions.insert({ id: 'dup', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' }, now: 1 }))
    let thrown: unknown
    try {
      store.transaction(() => store.executions.insert({ id: 'dup', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' }, now: 1 }))
    } catch (e) { thrown = e }
    expect(thrown).toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' })
    expect(store.health.status()).toEqual({ writable: true })
  })
})
