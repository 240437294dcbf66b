/**
 * The copy plan against the two schemas as their migrations make them: every SQLite table is copied or skipped on
 * purpose, every copied column has a place in PostgreSQL, and a table or column the plan cannot place is refused
 * before anything is written (a real SQLite file, a real PostgreSQL: test/helpers/postgres.ts).
 */
import { SQL } from 'bun'
import { Database } from 'bun:sqlite'
import { afterAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { testPostgres } from '../../../test/helpers/postgres.ts'
import { PostgresTarget } from '../postgresql/import.ts'
import { openDatabase } from '../sqlite/db.ts'
import { SqliteSource } from '../sqlite/export.ts'
import { planCopy } from './copy.ts'
import { COPIED_TABLES, SKIPPED_TABLES, isSqliteInternal } from './tables.ts'

const pg = await testPostgres()
const dir = mkdtempSync(join(tmpdir(), 'ak-migrate-plan-'))
afterAll(async () => {
  await pg?.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** A new, migrated SQLite store file. */
function newStore(name: string): string {
  const file = join(dir, name)
  openDatabase(file).close()
  return file
}

describe('the copy plan', () => {
  it('places every table of the SQLite schema: copied or skipped, and each name it lists exists', () => {
    const db = new Database(newStore('schema.db'), { readonly: true })
    const tables = db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => r.name)
    db.close()
    const copied = new Set<string>(COPIED_TABLES)
    expect(tables.filter((t) => !copied.has(t) && !Object.hasOwn(SKIPPED_TABLES, t) && !isSqliteInternal(t))).toEqual([])
    expect([...copied].filter((t) => !tables.includes(t))).toEqual([])
    expect(Object.keys(SKIPPED_TABLES).filter((t) => !tables.includes(t))).toEqual([])
    expect(Object.keys(SKIPPED_TABLES).filter((t) => copied.has(t))).toEqual([])
  })
})

describe.skipIf(!pg)('the copy plan against PostgreSQL', () => {
  it('finds a place in the migrated PostgreSQL schema for every column of every copied table', async () => {
    const db = await pg!.createDatabase()
    const source = SqliteSource.open(newStore('plan.db'))
    const target = await PostgresTarget.open(db.url)
    try {
      source.snapshot()
      const plan = await planCopy(source, target)
      expect(plan.map((t) => t.table)).toEqual([...COPIED_TABLES])
      expect(plan.every((t) => t.rows === 0 && t.columns.length > 0)).toBe(true)
    } finally {
      source.close()
      await target.close()
      await db.drop()
    }
  })

  it('refuses a source table it neither copies nor skips, and a column the destination lacks', async () => {
    const db = await pg!.createDatabase()
    const file = newStore('extra.db')
    const w = new Database(file)
    w.exec('CREATE TABLE something_new (id INTEGER PRIMARY KEY)')
    w.close()
    const extra = SqliteSource.open(file)
    const plain = SqliteSource.open(newStore('plain.db'))
    const target = await PostgresTarget.open(db.url)
    try {
      extra.snapshot()
      plain.snapshot()
      await expect(planCopy(extra, target)).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('neither copies nor skips (something_new)') })
      const sql = new SQL({ url: db.url, max: 1 })
      try { await sql`ALTER TABLE task_files DROP COLUMN attempt` } finally { await sql.close() }
      await expect(planCopy(plain, target)).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining("task_files table has no column attempt") })
    } finally {
      extra.close()
      plain.close()
      await target.close()
      await db.drop()
    }
  })
})
