/** Versioned schema migrations; applied in order on open, each once, recorded in schema_migrations. */

import type { Database } from 'bun:sqlite'
import { webhookKeyRecord } from '../webhook-keys.ts'

export interface Migration {
  version: number
  name: string
  sql: string
  /** Data changes SQL cannot express, run after `sql` in the same transaction. */
  up?: (db: Database) => void
  /** Run once the migration transaction has committed (e.g. a WAL checkpoint). */
  afterCommit?: (db: Database) => void
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE workflows (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        model TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        revision INTEGER NOT NULL DEFAULT 1,
        webhook_key TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE executions (
        id TEXT PRIMARY KEY,
        workflow_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        model TEXT NOT NULL,
        state TEXT NOT NULL,
        reason TEXT,
        trigger_type TEXT NOT NULL,
        trigger_data TEXT,
        scheduled_at INTEGER,
        inputs TEXT NOT NULL,
        error TEXT,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        ended_at INTEGER,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX executions_by_workflow ON executions (workflow_id, created_at DESC);
      CREATE INDEX executions_by_state ON executions (state, created_at DESC);
      CREATE INDEX executions_by_created ON executions (created_at DESC);
      CREATE TABLE task_runs (
        execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        task_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        state TEXT NOT NULL,
        reason TEXT,
        attempt INTEGER NOT NULL DEFAULT 0,
        output TEXT,
        error TEXT,
        next_attempt_at INTEGER,
        started_at INTEGER,
        ended_at INTEGER,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (execution_id, task_id)
      ) WITHOUT ROWID;
      CREATE TABLE task_attempts (
        execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        task_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        state TEXT NOT NULL,
        runner TEXT,
        error TEXT,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        PRIMARY KEY (execution_id, task_id, attempt)
      ) WITHOUT ROWID;
      CREATE TABLE logs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        execution_id TEXT NOT NULL,
        task_id TEXT,
        attempt INTEGER,
        ts INTEGER NOT NULL,
        level TEXT NOT NULL,
        source TEXT NOT NULL,
        message TEXT NOT NULL
      );
      CREATE INDEX logs_by_execution ON logs (execution_id, id DESC);
      CREATE INDEX logs_by_task ON logs (execution_id, task_id, id DESC);
      CREATE INDEX logs_by_level ON logs (execution_id, level, id DESC);
      CREATE TABLE audit_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL,
        type TEXT NOT NULL,
        execution_id TEXT,
        task_id TEXT,
        workflow_id TEXT,
        data TEXT
      );
      CREATE INDEX audit_by_execution ON audit_events (execution_id, id);
      CREATE TABLE secrets (
        name TEXT PRIMARY KEY,
        ciphertext BLOB NOT NULL,
        iv BLOB NOT NULL,
        tag BLOB NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE cron_fires (
        workflow_id TEXT NOT NULL,
        trigger_index INTEGER NOT NULL,
        scheduled_at INTEGER NOT NULL,
        execution_id TEXT NOT NULL,
        fired_at INTEGER NOT NULL,
        PRIMARY KEY (workflow_id, trigger_index, scheduled_at)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'execution owner',
    // Which engine process drives an execution, so a restart (or a second engine on the same file)
    // recovers only executions whose engine is gone.
    sql: `ALTER TABLE executions ADD COLUMN owner TEXT;`,
  },
  {
    version: 3,
    name: 'webhook keys stored hashed',
    // The clear key column goes: the table is rebuilt (a dropped column's bytes would linger in its pages), with
    // secure_delete on so the freed pages are zeroed, then the WAL is truncated so no old frame keeps a key.
    sql: `
      CREATE TABLE workflows_v3 (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        model TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        revision INTEGER NOT NULL DEFAULT 1,
        webhook_key_hash TEXT,
        webhook_key_hint TEXT,
        webhook_key_created_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
    up: (db) => {
      const prev = db.query<{ secure_delete: number }, []>('PRAGMA secure_delete').get()?.secure_delete ?? 0
      db.exec('PRAGMA secure_delete = ON')
      const insert = db.query(`INSERT INTO workflows_v3 (id, source, model, enabled, revision, webhook_key_hash,
        webhook_key_hint, webhook_key_created_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      const rows = db.query<{ id: string; source: string; model: string; enabled: number; revision: number; webhook_key: string | null;
        created_at: number; updated_at: number }, []>('SELECT * FROM workflows').all()
      for (const r of rows) {
        // Existing keys keep working: the key was minted when the workflow was first applied with a webhook.
        const k = r.webhook_key === null ? undefined : webhookKeyRecord(r.webhook_key, r.created_at)
        insert.run(r.id, r.source, r.model, r.enabled, r.revision, k?.hash ?? null, k?.hint ?? null, k?.createdAt ?? null, r.created_at, r.updated_at)
      }
      db.exec('DROP TABLE workflows')
      db.exec('ALTER TABLE workflows_v3 RENAME TO workflows')
      db.exec(`PRAGMA secure_delete = ${prev ? 'ON' : 'OFF'}`)
    },
    afterCommit: (db) => {
      // Best effort: a reader in another process can keep old frames alive until the next checkpoint.
      db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
    },
  },
  {
    version: 4,
    name: 'plugin grants seen',
    // The grant each plugin's manifest asked for when the engine last loaded it, so an upgrade that changes
    // it is shown as a difference (plugin inspect), logged as a WARN and audited.
    sql: `CREATE TABLE plugin_grants (
        plugin TEXT PRIMARY KEY,
        version TEXT NOT NULL,
        grant_json TEXT NOT NULL,
        dir TEXT NOT NULL,
        seen_at INTEGER NOT NULL
      );`,
  },
  {
    version: 5,
    name: 'write probe',
    // One row that /health rewrites while the store is degraded, to learn when writes work again
    // without touching any record a user sees (see runtime/store/sqlite/store.ts, probeWrite).
    sql: `CREATE TABLE store_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL);
      INSERT INTO store_probe (id, at) VALUES (1, 0);`,
  },
  {
    version: 6,
    name: 'task run paths and kinds',
    // A task run is keyed by its path (runtime/workflow/run-path.ts), kept in task_id: a top-level task's path
    // is its id, so every existing row already holds a path of depth one. The new columns say which run a run
    // belongs to (an iteration's task, the run a nested task sits in), its iteration index, and its task kind;
    // forEach and subflows add rows with them, not a new key. The stored models gain each task's `kind`.
    sql: `ALTER TABLE task_runs ADD COLUMN parent_path TEXT;
      ALTER TABLE task_runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'plugin';
      ALTER TABLE task_runs ADD COLUMN iteration INTEGER;`,
    up: (db) => {
      addTaskKinds(db, 'workflows')
      addTaskKinds(db, 'executions')
    },
  },
  {
    version: 7,
    name: 'engine leases',
    // One row per engine process: an execution's owner holds it while its lease (renewed by a heartbeat) lasts;
    // a claim takes over only an execution whose owner's row is gone or expired (runtime/store/store.ts).
    sql: `CREATE TABLE engines (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL,
        lease_until INTEGER NOT NULL
      );`,
  },
  {
    version: 8,
    name: 'execution labels',
    // Labels as given (JSON, for reading an execution back whole) and one row per label for the indexed
    // filter `--label k=v`: a page walks the (key, value, created_at) index newest first and stops at the page's
    // end (further labels: one primary-key probe each), so it costs the page, not the number of matches. The
    // creation time is copied for that order. Old executions have no labels.
    sql: `ALTER TABLE executions ADD COLUMN labels TEXT;
      CREATE TABLE execution_labels (
        execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (execution_id, key)
      ) WITHOUT ROWID;
      CREATE INDEX execution_labels_by_value ON execution_labels (key, value, created_at, execution_id);`,
  },
  {
    version: 9,
    name: 'workflow concurrency',
    // A workflow's active executions, oldest first, counted inside the transaction that creates or admits one
    // (runtime/state/concurrency.ts) from a partial, covering index (only non-terminal rows; the count reads no
    // table row); and the stop a newer execution asked of an older one (cancel-oldest), which the engine that owns
    // it reads and acts on. Self-contained: no other migration's columns are used.
    sql: `ALTER TABLE executions ADD COLUMN cancel_requested TEXT;
      CREATE INDEX executions_active_by_workflow ON executions (workflow_id, created_at, id, state, reason, cancel_requested)
        WHERE state IN ('PENDING', 'RUNNING', 'WAITING');
      CREATE INDEX executions_cancel_requested ON executions (owner) WHERE cancel_requested IS NOT NULL;`,
  },
  {
    version: 10,
    name: 'execution outputs',
    // The workflow's `outputs:`, rendered when an execution succeeds (JSON, masked like task outputs); NULL before.
    sql: `ALTER TABLE executions ADD COLUMN outputs TEXT;`,
  },
  {
    version: 11,
    name: 'restart and replay',
    // A restart keeps a run's attempt numbers rising (each attempt keeps its row) and records where the restart
    // began, so the attempts after it get the task's whole retry budget again. A replay is a new execution that
    // names the one it replays and the task it re-ran from (runtime/store/checkpoint.ts: restart, create.replay).
    sql: `ALTER TABLE task_runs ADD COLUMN attempt_base INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE executions ADD COLUMN replay_of TEXT;
      ALTER TABLE executions ADD COLUMN replay_from TEXT;`,
  },
  {
    version: 12,
    name: 'subflow links',
    // A subflow's child execution names its parent (the execution and the run that started it) and its depth
    // (1 for a child of a top-level execution: limits.maxSubflowDepth); the parent's run names its child (the
    // latest attempt's). The partial index finds the runs that wait for a child, for the engine that owns their
    // execution to learn that one ended (actors/supervisor/subflows.ts). Self-contained: only its own columns.
    sql: `ALTER TABLE executions ADD COLUMN parent_execution_id TEXT;
      ALTER TABLE executions ADD COLUMN parent_task_id TEXT;
      ALTER TABLE executions ADD COLUMN subflow_depth INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE task_runs ADD COLUMN child_execution_id TEXT;
      CREATE INDEX task_runs_awaiting_child ON task_runs (child_execution_id) WHERE state = 'WAITING' AND reason = 'SUBFLOW';
      CREATE INDEX executions_by_parent ON executions (parent_execution_id) WHERE parent_execution_id IS NOT NULL;`,
  },
  {
    version: 13,
    name: 'task files',
    // The files a run's successful attempt stored (`outputFiles:`, docs/files.md): names and digests here, bytes in
    // the blob store (runtime/files/). Written by the SUCCESS transition, gone with the execution (cascade). The
    // digest index answers "does any row still name this blob" for deletion and garbage collection; the ended_at
    // index finds the oldest terminal executions for a purge. Self-contained: only its own table and index.
    sql: `CREATE TABLE task_files (
        execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        task_id TEXT NOT NULL,
        name TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (execution_id, task_id, name)
      );
      CREATE INDEX task_files_by_sha ON task_files (sha256);
      CREATE INDEX executions_by_end ON executions (ended_at) WHERE ended_at IS NOT NULL;`,
  },
  {
    version: 14,
    name: 'workflow revisions',
    // The YAML of each revision a workflow had (a revision is a changed source), so the UI and the API can show
    // what an execution of an older revision ran from. Written by the apply that makes the revision, gone with the
    // workflow; the newest KEPT_REVISIONS per workflow are kept. Seeded with every workflow's current revision.
    sql: `CREATE TABLE workflow_revisions (
        workflow_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        source TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (workflow_id, revision)
      );
      INSERT INTO workflow_revisions (workflow_id, revision, source, created_at) SELECT id, revision, source, updated_at FROM workflows;`,
  },
  {
    version: 15,
    name: 'engine versions',
    // The autokestra version each engine runs, for the node registry (GET /api/v1/nodes): nodes of a rolling
    // upgrade tell apart. A row an older engine wrote keeps NULL (shown as unknown).
    sql: `ALTER TABLE engines ADD COLUMN version TEXT;`,
  },
  {
    version: 16,
    name: 'decision requests',
    // A decision (an approval's approve or reject) that reached an engine which does not hold the execution, for the
    // holder to take (docs/scale-out.md): the asking engine writes the request, the holder takes the decision and
    // writes the outcome, the asker reads it. Gone with the execution.
    sql: `CREATE TABLE decision_requests (
        id TEXT PRIMARY KEY,
        execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        task_id TEXT NOT NULL,
        decision TEXT NOT NULL,
        from_engine TEXT,
        requested_at INTEGER NOT NULL,
        outcome TEXT,
        settled_at INTEGER
      );
      CREATE INDEX decision_requests_unsettled ON decision_requests (execution_id) WHERE outcome IS NULL;`,
  },
]

/** Before v6 every task was a plugin call and its model had no `kind`: say so in each stored model, in pages. */
function addTaskKinds(db: Database, table: 'workflows' | 'executions'): void {
  const page = db.query<{ rowid: number; model: string }, [number]>(`SELECT rowid, model FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT 500`)
  const update = db.query(`UPDATE ${table} SET model = ? WHERE rowid = ?`)
  for (let after = 0, rows = page.all(after); rows.length > 0; rows = page.all(after)) {
    for (const r of rows) {
      after = r.rowid
      const model = JSON.parse(r.model) as { tasks?: Record<string, unknown>[] }
      const old = (model.tasks ?? []).filter((t) => t.kind === undefined)
      if (old.length === 0) continue
      for (const t of old) t.kind = 'plugin'
      update.run(JSON.stringify(model), r.rowid)
    }
  }
}
