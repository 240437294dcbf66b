/** Execution log lines: batched appends, newest-first pages with task, level and time filters. */

import type { Database } from 'bun:sqlite'
import { compact } from './json.ts'
import type { ListLogsQuery, LogPage, LogRecord, NewLogLine } from '../types.ts'

/** A row of the table as both backends read it (the PostgreSQL backend maps with the same function). */
export interface Row {
  id: number; execution_id: string; task_id: string | null; attempt: number | null; ts: number
  level: string; source: string; message: string
}

export const toRecord = (r: Row): LogRecord =>
  compact({
    id: r.id, executionId: r.execution_id, taskId: r.task_id ?? undefined, attempt: r.attempt ?? undefined,
    ts: r.ts, level: r.level, source: r.source, message: r.message,
  })

export class LogRepo {
  constructor(private readonly db: Database) {}

  /** Appends lines (call inside the writer's transaction to batch); returns them with their ids. */
  append(lines: readonly NewLogLine[]): LogRecord[] {
    const q = this.db.query(`INSERT INTO logs (execution_id, task_id, attempt, ts, level, source, message)
        VALUES (?, ?, ?, ?, ?, ?, ?)`)
    return lines.map((l) => {
      const id = Number(q.run(l.executionId, l.taskId ?? null, l.attempt ?? null, l.ts, l.level, l.source, l.message).lastInsertRowid)
      return { ...l, id }
    })
  }

  list(q: ListLogsQuery): LogPage {
    const where = ['execution_id = ?']
    const args: (string | number)[] = [q.executionId]
    if (q.taskId) { where.push('task_id = ?'); args.push(q.taskId) }
    if (q.levels?.length) { where.push(`level IN (${q.levels.map(() => '?').join(',')})`); args.push(...q.levels) }
    if (q.since !== undefined) { where.push('ts >= ?'); args.push(q.since) }
    if (q.afterId !== undefined) { where.push('id > ?'); args.push(q.afterId) }
    if (q.beforeId !== undefined) { where.push('id < ?'); args.push(q.beforeId) }
    const limit = q.limit ?? 100
    const offset = q.offset ?? 0
    const rows = this.db
      .query<Row, (string | number)[]>(
        `SELECT * FROM logs WHERE ${where.join(' AND ')} ORDER BY id ${q.order === 'asc' ? 'ASC' : 'DESC'} LIMIT ? OFFSET ?`)
      .all(...args, limit + 1, offset)
    const hasMore = rows.length > limit
    return { items: rows.slice(0, limit).map(toRecord), limit, offset, hasMore }
  }

  count(executionId?: string): number {
    return executionId
      ? this.db.query<{ n: number }, [string]>('SELECT COUNT(*) AS n FROM logs WHERE execution_id = ?').get(executionId)!.n
      : this.db.query<{ n: number }, []>('SELECT COUNT(*) AS n FROM logs').get()!.n
  }
}
