/**
 * Copies one store into another, table by table (tables.ts), between a source and a target that each backend
 * implements over its own database (sqlite/export.ts, postgresql/import.ts): nothing here sees a database. The
 * target writes everything in one transaction and counts every table inside it before it commits, so a copy either
 * lands whole, with counts equal to the source's, or leaves the destination as it found it.
 */

import { AppError, ErrorCode } from '../../errors.ts'
import { COPIED_TABLES, SKIPPED_TABLES, isSqliteInternal } from './tables.ts'

/** A value as both backends bind it: BLOBs as bytes, flags as SQLite's 0/1 (the target turns them into its type). */
export type CopyValue = string | number | boolean | null | Uint8Array

/** One table to copy: its columns (the source's, all of them) and how many rows the source holds. */
export interface TablePlan {
  table: string
  columns: string[]
  rows: number
}

/** A store read from one consistent snapshot. */
export interface CopySource {
  /** Every table of the source's schema. */
  tables(): string[]
  columns(table: string): string[]
  count(table: string): number
  /** The table's rows, each with the values of `columns` in that order. */
  rows(table: string, columns: readonly string[]): Iterable<CopyValue[]>
  /** The highest id each AUTOINCREMENT table has handed out (some may have been deleted since). */
  sequences(): Record<string, number>
}

/** An empty store to copy into. */
export interface CopyTarget {
  /** The table's columns, or undefined when the target has no such table. */
  columns(table: string): Promise<string[] | undefined>
  /**
   * Copies every table of `plan` in one transaction, after making sure under lock that they are empty; moves its id
   * sequences past `sequences`; counts each table before committing and rolls back unless every count is the plan's.
   * Resolves with those counts.
   */
  load(plan: readonly TablePlan[], rows: (t: TablePlan) => Iterable<CopyValue[]>, sequences: Record<string, number>): Promise<Record<string, number>>
}

export interface CopyReport {
  tables: { table: string; source: number; destination: number }[]
  skipped: { table: string; reason: string }[]
  rows: number
  ms: number
}

/** The tables to copy, checked against both schemas: a table or column the plan cannot place is refused before any write. */
export async function planCopy(source: CopySource, target: CopyTarget): Promise<TablePlan[]> {
  const present = new Set(source.tables())
  const undecided = [...present].filter((t) => !(COPIED_TABLES as readonly string[]).includes(t) && !Object.hasOwn(SKIPPED_TABLES, t) && !isSqliteInternal(t))
  if (undecided.length > 0) {
    throw new AppError(ErrorCode.Internal, `the source has tables this version neither copies nor skips (${undecided.join(', ')}): ` +
      'refusing to leave them behind unnoticed; use the autokestra version that made the source', { tables: undecided })
  }
  const plan: TablePlan[] = []
  for (const table of COPIED_TABLES) {
    if (!present.has(table)) throw new AppError(ErrorCode.Internal, `the source has no ${table} table`, { table })
    const columns = source.columns(table)
    const there = await target.columns(table)
    if (!there) throw new AppError(ErrorCode.Internal, `the destination has no ${table} table after its migrations`, { table })
    const missing = columns.filter((c) => !there.includes(c))
    if (missing.length > 0) {
      throw new AppError(ErrorCode.Internal, `the destination's ${table} table has no column ${missing.join(', ')}: the two schemas differ, ` +
        'so the copy would drop data', { table, columns: missing })
    }
    plan.push({ table, columns, rows: source.count(table) })
  }
  return plan
}

/** Plans, copies and verifies; see the module comment. */
export async function copyStore(source: CopySource, target: CopyTarget, now: () => number = Date.now): Promise<CopyReport> {
  const started = now()
  const plan = await planCopy(source, target)
  const counts = await target.load(plan, (t) => source.rows(t.table, t.columns), source.sequences())
  // The destination's counts as load() read them inside its transaction, just before it committed.
  const tables = plan.map((t) => ({ table: t.table, source: t.rows, destination: counts[t.table] ?? 0 }))
  const present = new Set(source.tables())
  return {
    tables,
    skipped: Object.entries(SKIPPED_TABLES).filter(([t]) => present.has(t)).map(([table, reason]) => ({ table, reason })),
    rows: tables.reduce((n, t) => n + t.destination, 0),
    ms: now() - started,
  }
}
