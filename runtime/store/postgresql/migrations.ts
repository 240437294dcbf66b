/**
 * Versioned schema migrations of the PostgreSQL backend; applied in order on open, each once, in one transaction
 * under an advisory lock (two nodes opening one new database do not both migrate), recorded in
 * schema_migrations. Version 1 is the schema SQLite reached in its 13 migrations, in one step: a PostgreSQL
 * database starts empty, so no history needs replaying. The next change to the schema is version 2 here and the
 * next version in sqlite/migrations.ts, each in its own dialect.
 *
 * Types: times are BIGINT milliseconds (as in SQLite), JSON is TEXT exactly as written (the engine parses it;
 * `jsonb` would reorder keys), sealed secrets are BYTEA, flags are BOOLEAN.
 */

import type { Q } from './sql.ts'

export interface Migration {
  version: number
  name: string
  sql: string
  /** Data changes SQL cannot express, run after `sql` in the same transaction. */
  up?: (q: Q) => Promise<void>
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema (SQLite v13)',
    sql: `
      CREATE TABLE workflows (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        model TEXT NOT NULL,
        enabled BOOLEAN NOT NULL DEFAULT TRUE,
        revision INTEGER NOT NULL DEFAULT 1,
        webhook_key_hash TEXT,
        webhook_key_hint TEXT,
        webhook_key_created_at BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
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
        scheduled_at BIGINT,
        inputs TEXT NOT NULL,
        outputs TEXT,
        error TEXT,
        labels TEXT,
        owner TEXT,
        cancel_requested TEXT,
        replay_of TEXT,
        replay_from TEXT,
        parent_execution_id TEXT,
        parent_task_id TEXT,
        subflow_depth INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        started_at BIGINT,
        ended_at BIGINT,
        updated_at BIGINT NOT NULL
      );
      CREATE INDEX executions_by_workflow ON executions (workflow_id, created_at DESC);
      CREATE INDEX executions_by_state ON executions (state, created_at DESC);
      CREATE INDEX executions_by_created ON executions (created_at DESC, id DESC);
      CREATE INDEX executions_active_by_workflow ON executions (workflow_id, created_at, id)
        INCLUDE (state, reason, cancel_requested) WHERE state IN ('PENDING', 'RUNNING', 'WAITING');
      CREATE INDEX executions_cancel_requested ON executions (owner) WHERE cancel_requested IS NOT NULL;
      CREATE INDEX executions_by_parent ON executions (parent_execution_id) WHERE parent_execution_id IS NOT NULL;
      CREATE INDEX executions_by_end ON executions (ended_at) WHERE ended_at IS NOT NULL;
      CREATE TABLE task_runs (
        execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        task_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        state TEXT NOT NULL,
        reason TEXT,
        attempt INTEGER NOT NULL DEFAULT 0,
        attempt_base INTEGER NOT NULL DEFAULT 0,
        output TEXT,
        error TEXT,
        next_attempt_at BIGINT,
        parent_path TEXT,
        kind TEXT NOT NULL DEFAULT 'plugin',
        iteration INTEGER,
        child_execution_id TEXT,
        started_at BIGINT,
        ended_at BIGINT,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (execution_id, task_id)
      );
      CREATE INDEX task_runs_awaiting_child ON task_runs (child_execution_id) WHERE state = 'WAITING' AND reason = 'SUBFLOW';
      CREATE TABLE task_attempts (
        execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        task_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        state TEXT NOT NULL,
        runner TEXT,
        error TEXT,
        started_at BIGINT NOT NULL,
        ended_at BIGINT,
        PRIMARY KEY (execution_id, task_id, attempt)
      );
      CREATE TABLE execution_labels (
        execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (execution_id, key)
      );
      CREATE INDEX execution_labels_by_value ON execution_labels (key, value, created_at, execution_id);
      CREATE TABLE logs (
        id BIGSERIAL PRIMARY KEY,
        execution_id TEXT NOT NULL,
        task_id TEXT,
        attempt INTEGER,
        ts BIGINT NOT NULL,
        level TEXT NOT NULL,
        source TEXT NOT NULL,
        message TEXT NOT NULL
      );
      CREATE INDEX logs_by_execution ON logs (execution_id, id DESC);
      CREATE INDEX logs_by_task ON logs (execution_id, task_id, id DESC);
      CREATE INDEX logs_by_level ON logs (execution_id, level, id DESC);
      CREATE TABLE audit_events (
        id BIGSERIAL PRIMARY KEY,
        ts BIGINT NOT NULL,
        type TEXT NOT NULL,
        execution_id TEXT,
        task_id TEXT,
        workflow_id TEXT,
        data TEXT
      );
      CREATE INDEX audit_by_execution ON audit_events (execution_id, id);
      CREATE TABLE secrets (
        name TEXT PRIMARY KEY,
        ciphertext BYTEA NOT NULL,
        iv BYTEA NOT NULL,
        tag BYTEA NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE TABLE cron_fires (
        workflow_id TEXT NOT NULL,
        trigger_index INTEGER NOT NULL,
        scheduled_at BIGINT NOT NULL,
        execution_id TEXT NOT NULL,
        fired_at BIGINT NOT NULL,
        PRIMARY KEY (workflow_id, trigger_index, scheduled_at)
      );
      CREATE TABLE plugin_grants (
        plugin TEXT PRIMARY KEY,
        version TEXT NOT NULL,
        grant_json TEXT NOT NULL,
        dir TEXT NOT NULL,
        seen_at BIGINT NOT NULL
      );
      CREATE TABLE store_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at BIGINT NOT NULL);
      INSERT INTO store_probe (id, at) VALUES (1, 0);
      -- proof: whether the engine held its liveness lock (an advisory lock) when it registered (engines.ts).
      CREATE TABLE engines (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at BIGINT NOT NULL,
        heartbeat_at BIGINT NOT NULL,
        lease_until BIGINT NOT NULL,
        proof BOOLEAN NOT NULL DEFAULT FALSE
      );
      CREATE TABLE task_files (
        execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        task_id TEXT NOT NULL,
        name TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        size BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (execution_id, task_id, name)
      );
      CREATE INDEX task_files_by_sha ON task_files (sha256);
    `,
  },
  {
    version: 2,
    name: 'workflow revisions (SQLite v14)',
    // The YAML of each revision a workflow had; the newest KEPT_REVISIONS per workflow are kept (sqlite/migrations.ts).
    sql: `
      CREATE TABLE workflow_revisions (
        workflow_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        source TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (workflow_id, revision)
      );
      INSERT INTO workflow_revisions (workflow_id, revision, source, created_at) SELECT id, revision, source, updated_at FROM workflows;
    `,
  },
  {
    version: 3,
    name: 'engine versions (SQLite v15)',
    // The autokestra version each engine runs, for the node registry; NULL in a row an older engine wrote.
    sql: `ALTER TABLE engines ADD COLUMN version TEXT;`,
  },
  {
    version: 4,
    name: 'decision requests (SQLite v16)',
    // A decision that reached a node which does not hold the execution, for the holder to take (sqlite/migrations.ts).
    sql: `
      CREATE TABLE decision_requests (
        id TEXT PRIMARY KEY,
        execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        task_id TEXT NOT NULL,
        decision TEXT NOT NULL,
        from_engine TEXT,
        requested_at BIGINT NOT NULL,
        outcome TEXT,
        settled_at BIGINT
      );
      CREATE INDEX decision_requests_unsettled ON decision_requests (execution_id) WHERE outcome IS NULL;
    `,
  },
]
