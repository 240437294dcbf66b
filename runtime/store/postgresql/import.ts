/**
 * The PostgreSQL side of `workflow storage migrate` (runtime/store/migrate/): an EMPTY database, migrated to this
 * build's schema when opened, loaded in one transaction. Inside it every copied table is locked against writers
 * (EXCLUSIVE: reads go on, a server starting meanwhile waits), checked empty again, filled in multi-row INSERTs
 * bounded by PostgreSQL's 65,535 parameters per statement, its id sequences moved past the copied ids, and
 * counted: a count that is not the source's rolls it all back, as does any refused row.
 */

import type { SQL } from 'bun'
import { AppError, ErrorCode } from '../../errors.ts'
import type { CopyTarget, CopyValue, TablePlan } from '../migrate/copy.ts'
import { COPIED_TABLES } from '../migrate/tables.ts'
import { migrate, openPool, schemaVersion } from './db.ts'
import { pgFaultCode, translatePgFault } from './faults.ts'
import { MIGRATIONS } from './migrations.ts'
import { Q, ROWS_PER_INSERT, type Param } from './sql.ts'

/** PostgreSQL's limit of bound parameters in one statement. */
const MAX_PARAMS = 65_535
/** Bytes of values per statement, beyond which a batch is sent early (a table of large models, or logs). */
const MAX_BATCH_BYTES = 8 * 1024 * 1024

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`

/** What the server said, without Bun's prefix, and its SQLSTATE. */
function serverWords(e: unknown): { why: string; errno?: string } {
  const errno = (e as { errno?: unknown } | null)?.errno
  const why = (e instanceof Error ? e.message : String(e)).replace(/^ERR_POSTGRES_SERVER_ERROR: /, '')
  return typeof errno === 'string' ? { why, errno } : { why }
}

/** At open: the url refused (no such database, login refused) is INVALID_INPUT; a fault is STORAGE_UNAVAILABLE. */
function openError(e: unknown): unknown {
  if (e instanceof AppError) return e
  const { why, errno } = serverWords(e)
  if (errno === '3D000' || errno?.startsWith('28')) return new AppError(ErrorCode.InvalidInput, `the PostgreSQL server refused it: ${why} (${errno})`, { postgresql: errno })
  if (pgFaultCode(e)) return new AppError(ErrorCode.StorageUnavailable, `cannot reach the PostgreSQL server: ${why} (${pgFaultCode(e)})`, { postgresql: pgFaultCode(e) }, true)
  return e
}

/** Which of `tables` hold a row (the ones that exist). */
async function tablesWithRows(q: Q, tables: readonly string[]): Promise<string[]> {
  const out: string[] = []
  for (const t of tables) {
    const exists = await q.get<{ r: string | null }>('SELECT to_regclass(?) AS r', [t])
    if (!exists?.r) continue
    if (await q.get(`SELECT 1 AS x FROM ${quote(t)} LIMIT 1`)) out.push(t)
  }
  return out
}

const notEmpty = (tables: string[]) => new AppError(ErrorCode.Conflict, `the destination database is not empty (rows in ${tables.join(', ')}): ` +
  'migrate copies into an empty database only; create a new one (CREATE DATABASE …) and migrate before any server starts on it', { tables })

export class PostgresTarget implements CopyTarget {
  private readonly types = new Map<string, Map<string, string>>()

  private constructor(private readonly pool: SQL) {}

  /**
   * Connects to `url`, refuses a database that holds any row a copy would write (CONFLICT) or has a newer schema than
   * this build's, then migrates it to this build's schema (which creates it in a new database).
   */
  static async open(url: string): Promise<PostgresTarget> {
    const pool = openPool(url, { max: 2 })
    try {
      const q = new Q(pool)
      const hasSchema = await q.get<{ r: string | null }>("SELECT to_regclass('schema_migrations') AS r")
      if (hasSchema?.r) {
        const version = await schemaVersion(pool)
        const current = MIGRATIONS.at(-1)!.version
        if (version > current) {
          throw new AppError(ErrorCode.Conflict, `the destination's schema is version ${version}, newer than this autokestra's (${current})`, { version, expected: current })
        }
      }
      const full = await tablesWithRows(q, COPIED_TABLES)
      if (full.length > 0) throw notEmpty(full)
      await migrate(pool)
      return new PostgresTarget(pool)
    } catch (e) {
      await pool.close({ timeout: 0 }).catch(() => {})
      throw openError(e)
    }
  }

  async columns(table: string): Promise<string[] | undefined> {
    const rows = await new Q(this.pool).all<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?
        ORDER BY ordinal_position`, [table])
    if (rows.length === 0) return undefined
    this.types.set(table, new Map(rows.map((r) => [r.column_name, r.data_type])))
    return rows.map((r) => r.column_name)
  }

  async load(plan: readonly TablePlan[], rows: (t: TablePlan) => Iterable<CopyValue[]>, sequences: Record<string, number>): Promise<Record<string, number>> {
    try {
      return await this.pool.begin(async (tx) => {
        const q = new Q(tx)
        await q.exec(`LOCK TABLE ${plan.map((t) => quote(t.table)).join(', ')} IN EXCLUSIVE MODE`)
        const full = await tablesWithRows(q, plan.map((t) => t.table))
        if (full.length > 0) throw notEmpty(full)
        for (const t of plan) await this.insertAll(q, t, rows(t))
        for (const t of plan) await this.advanceSequences(q, t, sequences[t.table] ?? 0)
        const counts: Record<string, number> = {}
        for (const t of plan) counts[t.table] = (await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${quote(t.table)}`))?.n ?? 0
        const off = plan.filter((t) => counts[t.table] !== t.rows)
        if (off.length > 0) {
          throw new AppError(ErrorCode.Internal, `row counts differ, so nothing was committed: ${off.map((t) => `${t.table} ${t.rows} in the source, ` +
            `${counts[t.table]} here`).join('; ')}`, { tables: off.map((t) => ({ table: t.table, source: t.rows, destination: counts[t.table] })) })
        }
        return counts
      })
    } catch (e) {
      throw translatePgFault(e)
    }
  }

  /** INSERTs of as many rows as fit in the parameter limit (at most ROWS_PER_INSERT) and MAX_BATCH_BYTES. */
  private async insertAll(q: Q, t: TablePlan, source: Iterable<CopyValue[]>): Promise<void> {
    const perStatement = Math.max(1, Math.min(ROWS_PER_INSERT, Math.floor(MAX_PARAMS / t.columns.length)))
    const head = `INSERT INTO ${quote(t.table)} (${t.columns.map(quote).join(', ')}) VALUES `
    const row = `(${t.columns.map(() => '?').join(', ')})`
    const convert = this.converters(t)
    let batch: Param[][] = []
    let bytes = 0
    const flush = async () => {
      if (batch.length === 0) return
      try {
        await q.run(head + batch.map(() => row).join(', '), batch.flat())
      } catch (e) {
        if (pgFaultCode(e) || e instanceof AppError) throw e
        const { why, errno } = serverWords(e)
        throw new AppError(ErrorCode.InvalidInput, `table ${t.table}: PostgreSQL refused a row of the source (${why}${errno ? `, ${errno}` : ''}); ` +
          'nothing was copied', { table: t.table, ...(errno ? { postgresql: errno } : {}) })
      }
      batch = []
      bytes = 0
    }
    for (const values of source) {
      const r = values.map((v, i) => convert[i]!(v))
      for (const v of r) bytes += typeof v === 'string' ? v.length : v instanceof Uint8Array ? v.byteLength : 8
      batch.push(r)
      if (batch.length >= perStatement || bytes >= MAX_BATCH_BYTES) await flush()
    }
    await flush()
  }

  /** Per column: SQLite's 0/1 flags become BOOLEAN; everything else binds as it came (BLOBs as bytes, BYTEA). */
  private converters(t: TablePlan): ((v: CopyValue) => Param)[] {
    const types = this.types.get(t.table) ?? new Map<string, string>()
    return t.columns.map((c) => types.get(c) === 'boolean' ? (v) => (v === null ? null : v === true || v === 1) : (v) => v)
  }

  /** Each serial column's sequence goes past both the highest copied id and SQLite's high-water mark `atLeast`. */
  private async advanceSequences(q: Q, t: TablePlan, atLeast: number): Promise<void> {
    for (const c of t.columns) {
      const seq = (await q.get<{ s: string | null }>('SELECT pg_get_serial_sequence(?, ?) AS s', [quote(t.table), c]))?.s
      if (!seq) continue
      const max = (await q.get<{ m: number | null }>(`SELECT MAX(${quote(c)}) AS m FROM ${quote(t.table)}`))?.m ?? 0
      const next = Math.max(max, atLeast)
      if (next > 0) await q.run('SELECT setval(?, ?, true)', [seq, next])
    }
  }

  async close(): Promise<void> {
    await this.pool.close({ timeout: 5 }).catch(() => {})
  }
}
