/** SQL for `task_files` on PostgreSQL: the files task runs stored, and the purge of old executions with theirs. */

import type { FileRecord, PurgeBatch, StoredFile } from '../types.ts'
import { marks, ROWS_PER_INSERT, type Q } from './sql.ts'

interface FileRow { execution_id: string; task_id: string; name: string; attempt: number; sha256: string; size: number; created_at: number }

const toRecord = (r: FileRow): FileRecord => ({
  executionId: r.execution_id, taskId: r.task_id, name: r.name, attempt: r.attempt, sha256: r.sha256, size: r.size, createdAt: r.created_at,
})

export class FileRepo {
  constructor(private readonly q: Q) {}

  async list(executionId: string): Promise<FileRecord[]> {
    return (await this.q.all<FileRow>('SELECT * FROM task_files WHERE execution_id = ? ORDER BY task_id, name', [executionId])).map(toRecord)
  }

  async get(executionId: string, taskId: string, name: string): Promise<FileRecord | undefined> {
    const r = await this.q.get<FileRow>('SELECT * FROM task_files WHERE execution_id = ? AND task_id = ? AND name = ?', [executionId, taskId, name])
    return r ? toRecord(r) : undefined
  }

  async byTask(executionId: string): Promise<Map<string, StoredFile[]>> {
    const out = new Map<string, StoredFile[]>()
    for (const r of await this.q.all<FileRow>('SELECT * FROM task_files WHERE execution_id = ? ORDER BY task_id, name', [executionId])) {
      const list = out.get(r.task_id) ?? []
      list.push({ name: r.name, sha256: r.sha256, size: r.size })
      out.set(r.task_id, list)
    }
    return out
  }

  async replace(executionId: string, taskId: string, attempt: number, files: readonly StoredFile[], now: number): Promise<void> {
    await this.q.run('DELETE FROM task_files WHERE execution_id = ? AND task_id = ?', [executionId, taskId])
    for (const f of files) {
      await this.q.run('INSERT INTO task_files (execution_id, task_id, name, attempt, sha256, size, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [executionId, taskId, f.name, attempt, f.sha256, f.size, now])
    }
  }

  async copyRuns(from: string, to: string, taskIds: readonly string[], now: number): Promise<void> {
    for (const id of taskIds) {
      await this.q.run(`INSERT INTO task_files (execution_id, task_id, name, attempt, sha256, size, created_at)
          SELECT ?, task_id, name, attempt, sha256, size, ? FROM task_files WHERE execution_id = ? AND task_id = ? ON CONFLICT DO NOTHING`,
      [to, now, from, id])
    }
  }

  /** In lists of at most ROWS_PER_INSERT digests (a garbage collection may ask about many). */
  async referenced(sha256s: readonly string[]): Promise<Set<string>> {
    const unique = [...new Set(sha256s)]
    const out = new Set<string>()
    for (let i = 0; i < unique.length; i += ROWS_PER_INSERT) {
      const chunk = unique.slice(i, i + ROWS_PER_INSERT)
      for (const r of await this.q.all<{ sha256: string }>(`SELECT DISTINCT sha256 FROM task_files WHERE sha256 IN (${marks(chunk.length)})`, chunk)) out.add(r.sha256)
    }
    return out
  }

  /** One purge batch (ExecutionRepository.purge); the caller runs it in a write transaction. */
  async purge(before: number, limit: number): Promise<PurgeBatch> {
    const ids = (await this.q.all<{ id: string }>(`SELECT id FROM executions
        WHERE ended_at IS NOT NULL AND ended_at < ? AND state IN ('SUCCESS', 'FAILED', 'CANCELLED') ORDER BY ended_at, id LIMIT ?`, [before, limit]))
      .map((r) => r.id)
    if (ids.length === 0) return { executions: [], unreferenced: [] }
    const m = marks(ids.length)
    const shas = (await this.q.all<{ sha256: string }>(`SELECT DISTINCT sha256 FROM task_files WHERE execution_id IN (${m})`, ids)).map((r) => r.sha256)
    await this.q.run(`DELETE FROM logs WHERE execution_id IN (${m})`, ids)
    await this.q.run(`DELETE FROM audit_events WHERE execution_id IN (${m})`, ids)
    await this.q.run(`DELETE FROM executions WHERE id IN (${m})`, ids)
    const still = await this.referenced(shas)
    return { executions: ids, unreferenced: shas.filter((s) => !still.has(s)) }
  }
}
