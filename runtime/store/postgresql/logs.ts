/** Execution log lines on PostgreSQL: batched appends, newest-first pages with task, level and time filters. */

import type { ListLogsQuery, LogPage, LogRecord, NewLogLine } from '../types.ts'
import { marks, type Q } from './sql.ts'
import { toRecord, type Row } from '../sqlite/logs.ts'

export class LogRepo {
  constructor(private readonly q: Q) {}

  /**
   * Appends lines inside the caller's transaction (one statement per line: the ids come back in order). A NUL
   * character, which PostgreSQL's TEXT cannot hold, is stored as U+FFFD: one odd byte of a plugin's output must not
   * make the whole batch fail again on every retry.
   */
  async append(lines: readonly NewLogLine[]): Promise<LogRecord[]> {
    const out: LogRecord[] = []
    for (const raw of lines) {
      const l = raw.message.includes('\0') ? { ...raw, message: raw.message.replaceAll('\0', '\uFFFD') } : raw
      const r = await this.q.get<{ id: number }>(`INSERT INTO logs (execution_id, task_id, attempt, ts, level, source, message)
        VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, [l.executionId, l.taskId ?? null, l.attempt ?? null, l.ts, l.level, l.source, l.message])
      out.push({ ...l, id: r!.id })
    }
    return out
  }

  async list(q: ListLogsQuery): Promise<LogPage> {
    const where = ['execution_id = ?']
    const args: (string | number)[] = [q.executionId]
    if (q.taskId) { where.push('task_id = ?'); args.push(q.taskId) }
    if (q.levels?.length) { where.push(`level IN (${marks(q.levels.length)})`); args.push(...q.levels) }
    if (q.since !== undefined) { where.push('ts >= ?'); args.push(q.since) }
    if (q.afterId !== undefined) { where.push('id > ?'); args.push(q.afterId) }
    if (q.beforeId !== undefined) { where.push('id < ?'); args.push(q.beforeId) }
    const limit = q.limit ?? 100
    const offset = q.offset ?? 0
    const rows = await this.q.all<Row>(
      `SELECT * FROM logs WHERE ${where.join(' AND ')} ORDER BY id ${q.order === 'asc' ? 'ASC' : 'DESC'} LIMIT ? OFFSET ?`, [...args, limit + 1, offset])
    return { items: rows.slice(0, limit).map(toRecord), limit, offset, hasMore: rows.length > limit }
  }

  async count(executionId?: string): Promise<number> {
    return executionId
      ? (await this.q.get<{ n: number }>('SELECT COUNT(*) AS n FROM logs WHERE execution_id = ?', [executionId]))!.n
      : (await this.q.get<{ n: number }>('SELECT COUNT(*) AS n FROM logs'))!.n
  }
}
