/**
 * What `workflow storage migrate` copies from a SQLite store into PostgreSQL, table by table, and what it leaves
 * behind and why. Every table of the SQLite schema is in exactly one of the two lists: the copy refuses a source
 * table in neither (a migration added one and nobody decided), and tables.test.ts checks both lists against the
 * schemas the two backends' migrations make.
 */

/**
 * Copied, in this order: a table comes after the ones its foreign keys name (executions before its runs, attempts,
 * labels and files). Each keeps its rows whole, every column, keys included.
 */
export const COPIED_TABLES = [
  // Workflows: source, model, enabled, revision, and the webhook key as it is stored (a hash and a hint, never the
  // key): the URLs callers hold keep working.
  'workflows',
  // The YAML of each kept revision (the UI and the API show what an older execution ran from).
  'workflow_revisions',
  // Executions with their owner as it was: that engine never registers on the new database, so a server there finds
  // a non-terminal execution ownerless and recovers it as after a restart (actors/supervisor/recovery.ts).
  'executions',
  'execution_labels',
  'task_runs',
  'task_attempts',
  // Logs and audit events keep their ids (log cursors and SSE `after` stay valid); the destination's id sequences
  // are moved past them (and past SQLite's AUTOINCREMENT high-water mark, so an id is never handed out twice).
  'logs',
  'audit_events',
  // Sealed values as they are (ciphertext, iv, tag): the engine encrypts, so no key is needed to copy and PostgreSQL
  // never sees a value. The servers on PostgreSQL need this installation's master key to open them.
  'secrets',
  // The cron ledger: a tick fired before the move is not fired again after it (missed: catchup counts from here).
  'cron_fires',
  // The grant each plugin's manifest asked for when last loaded: an upgrade that changes one is still shown.
  'plugin_grants',
  // Task files' names and digests; their bytes are blobs in storage.files.dir, on disk, not in any table.
  'task_files',
] as const

export type CopiedTable = (typeof COPIED_TABLES)[number]

/** Left behind, with the reason (printed by the command and in its --json). */
export const SKIPPED_TABLES = {
  engines: "the leases of this installation's engine processes: none of them runs on the destination, whose servers " +
    'register their own (a copied lease would make its executions look owned until it expired)',
  decision_requests: 'decisions one engine asked the holder of an execution to take, and their answers: messages between the ' +
    "engines of this installation, none of which runs on the destination (a run whose request was not answered still waits there: decide it again)",
  store_probe: "the health probe's one row, which the destination's schema creates for itself",
  schema_migrations: "each backend's own history of schema versions; the destination's is written when it is migrated",
  sqlite_sequence: "SQLite's AUTOINCREMENT counters: they set the destination's id sequences instead",
} as const satisfies Record<string, string>

/** Tables SQLite itself keeps (`sqlite_stat1` after ANALYZE, …): never the store's, never copied. */
export const isSqliteInternal = (table: string): boolean => table.startsWith('sqlite_') && !Object.hasOwn(SKIPPED_TABLES, table)
