/** SQL for `task_files` (migration 13): the files task runs stored, and the purge of old executions with theirs. */

import type { Database } from 'bun:sqlite'
import type { FileRecord, PurgeBatch, StoredFile } from '../types.ts'

interface FileRow {
  execution_id: string
  task_id: string
  name: string
  attempt: number
  sha256: string
  size: number
  created_at: number
}

const toRecord = (r: FileRow): FileRecord => ({
  executionId: r.execution_id, taskId: r.task_id, name: r.name, attempt: r.attempt, sha256: r.sha256, size: r.size, createdAt: r.created_at,
})

export class FileRepo {
  constructor(private readonly db: Database) {}

  list(executionId: string): FileRecord[] {
    return this.db.query<FileRow, [string]>('SELECT * FROM task_files WHERE execution_id = ? ORDER BY task_id, name').all(executionId).map(toRecord)
  }

  get(executionId: string, taskId: string, name: string): FileRecord | undefined {
    const r = this.db.query<FileRow, [string, string, string]>('SELECT * FROM task_files WHERE execution_id = ? AND task_id = ? AND name = ?')
      .get(executionId, taskId, name)
    return r ? toRecord(r) : undefined
  }

  /** By run path, for the snapshot's task runs. */
  byTask(executionId: string): Map<string, StoredFile[]> {
    const out = new Map<string, StoredFile[]>()
    for (const r of this.db.query<FileRow, [string]>('SELECT * FROM task_files WHERE execution_id = ? ORDER BY task_id, name').all(executionId)) {
      const list = out.get(r.task_id) ?? []
      list.push({ name: r.name, sha256: r.sha256, size: r.size })
      out.set(r.task_id, list)
    }
    return out
  }

  /** A run's SUCCESS: its files replace whatever it had (inside the transition's savepoint). */
  replace(executionId: string, taskId: string, attempt: number, files: readonly StoredFile[], now: number): void {
    this.db.query('DELETE FROM task_files WHERE execution_id = ? AND task_id = ?').run(executionId, taskId)
    const insert = this.db.query(`INSERT INTO task_files (execution_id, task_id, name, attempt, sha256, size, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
    for (const f of files) insert.run(executionId, taskId, f.name, attempt, f.sha256, f.size, now)
  }

  /** A replay: the files of runs `taskIds` of execution `from`, recorded again for execution `to`. */
  copyRuns(from: string, to: string, taskIds: readonly string[], now: number): void {
    const copy = this.db.query(`INSERT OR IGNORE INTO task_files (execution_id, task_id, name, attempt, sha256, size, created_at)
        SELECT ?, task_id, name, attempt, sha256, size, ? FROM task_files WHERE execution_id = ? AND task_id = ?`)
    for (const id of taskIds) copy.run(to, now, from, id)
  }

  referenced(sha256s: readonly string[]): Set<string> {
    const out = new Set<string>()
    const q = this.db.query<{ sha256: string }, [string]>('SELECT sha256 FROM task_files WHERE sha256 = ? LIMIT 1')
    for (const s of new Set(sha256s)) if (q.get(s)) out.add(s)
    return out
  }

  /** One purge batch (ExecutionRepository.purge); the caller runs it in a write transaction. */
  purge(before: number, limit: number): PurgeBatch {
    const ids = this.db.query<{ id: string }, [number, number]>(`SELECT id FROM executions
        WHERE ended_at IS NOT NULL AND ended_at < ? AND state IN ('SUCCESS', 'FAILED', 'CANCELLED') ORDER BY ended_at, id LIMIT ?`)
      .all(before, limit).map((r) => r.id)
    if (ids.length === 0) return { executions: [], unreferenced: [] }
    const marks = ids.map(() => '?').join(',')
    const shas = this.db.query<{ sha256: string }, string[]>(`SELECT DISTINCT sha256 FROM task_files WHERE execution_id IN (${marks})`).all(...ids).map((r) => r.sha256)
    // Logs and audit events name an execution without a foreign key; runs, attempts, labels and files cascade.
    this.db.query(`DELETE FROM logs WHERE execution_id IN (${marks})`).run(...ids)
    this.db.query(`DELETE FROM audit_events WHERE execution_id IN (${marks})`).run(...ids)
    this.db.query(`DELETE FROM executions WHERE id IN (${marks})`).run(...ids)
    const still = this.referenced(shas)
    return { executions: ids, unreferenced: shas.filter((s) => !still.has(s)) }
  }
}
