/**
 * `Q.send` and `Q.settled` on a real PostgreSQL: writes sent without waiting run in order before what follows, a
 * transaction's opener waits for all of them, and a sent write that fails is what fails the body — its own error,
 * not the `25P02` (transaction aborted) of the statements after it — with nothing of the transaction kept.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { testPostgres } from '../../../test/helpers/postgres.ts'
import { openPool } from './db.ts'
import { Q } from './sql.ts'

const pg = await testPostgres()
afterAll(async () => { await pg?.stop() })

/** `fn` on a fresh database with the table `ddl` creates, and a pool of two; both gone after. */
async function withTable(ddl: string, fn: (pool: ReturnType<typeof openPool>) => Promise<void>): Promise<void> {
  const db = await pg!.createDatabase()
  const pool = openPool(db.url, { max: 2 })
  try {
    await new Q(pool).exec(ddl)
    await fn(pool)
  } finally {
    await pool.close()
    await db.drop()
  }
}

describe.skipIf(!pg)('Q: writes sent without waiting', () => {
  it('runs them in order before the next read, and the transaction commits only once every answer came', () => withTable('CREATE TABLE t (id BIGSERIAL PRIMARY KEY, v INTEGER NOT NULL)', async (pool) => {
    const seen = await pool.begin(async (tx) => {
      const q = new Q(tx)
      return q.settled(async () => {
        for (let i = 0; i < 50; i++) q.send('INSERT INTO t (v) VALUES (?)', [i])
        // Sent after the 50: PostgreSQL answers it after them, on the same connection.
        return (await q.get<{ n: number }>('SELECT COUNT(*)::int AS n FROM t'))!.n
      })
    })
    expect(seen).toBe(50)
    const rows = await new Q(pool).all<{ v: number }>('SELECT v FROM t ORDER BY id')
    expect(rows.map((r) => r.v)).toEqual(Array.from({ length: 50 }, (_, i) => i))
  }))

  it('a sent write that fails fails the body with its own error, and rolls the transaction back', () => withTable('CREATE TABLE t (id BIGSERIAL PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0))', async (pool) => {
    const failed = await pool.begin(async (tx) => {
      const q = new Q(tx)
      return q.settled(async () => {
        q.send('INSERT INTO t (v) VALUES (?)', [1])
        q.send('INSERT INTO t (v) VALUES (?)', [-1]) // refused: the CHECK (23514)
        q.send('INSERT INTO t (v) VALUES (?)', [2])
        await q.get('SELECT 1 AS x') // gets 25P02 (aborted): not what must surface
        return 'not reached'
      })
    }).catch((e: unknown) => e as { errno?: string })
    expect(failed).toMatchObject({ errno: '23514' })
    expect(await new Q(pool).get<{ n: number }>('SELECT COUNT(*)::int AS n FROM t')).toEqual({ n: 0 })
    // The same when the body itself ends first: the failure is still the body's.
    const late = await pool.begin(async (tx) => {
      const q = new Q(tx)
      return q.settled(async () => { q.send('INSERT INTO t (v) VALUES (?)', [-5]); return 'returned' })
    }).catch((e: unknown) => e as { errno?: string })
    expect(late).toMatchObject({ errno: '23514' })
    expect(await new Q(pool).get<{ n: number }>('SELECT COUNT(*)::int AS n FROM t')).toEqual({ n: 0 })
  }))

  it('inside a savepoint: a sent failure rolls back the savepoint only, and wins over the body\'s own error', () => withTable('CREATE TABLE t (id BIGSERIAL PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0))', async (pool) => {
    type Tx = { savepoint<T>(fn: (sp: never) => Promise<T>): Promise<T> }
    const outcome = await pool.begin(async (tx) => {
      const q = new Q(tx)
      return q.settled(async () => {
        q.send('INSERT INTO t (v) VALUES (?)', [1])
        const inner = await (tx as unknown as Tx).savepoint(async (sp) => {
          const spq = new Q(sp)
          return spq.settled(async () => {
            spq.send('INSERT INTO t (v) VALUES (?)', [10])
            spq.send('INSERT INTO t (v) VALUES (?)', [-1]) // 23514
            throw new Error('the body\'s own refusal')
          })
        }).catch((e: unknown) => e as { errno?: string; message?: string })
        q.send('INSERT INTO t (v) VALUES (?)', [2])
        return inner
      })
    })
    // The sent write's failure, not the body's error, is what the savepoint's opener saw.
    expect(outcome).toMatchObject({ errno: '23514' })
    const rows = await new Q(pool).all<{ v: number }>('SELECT v FROM t ORDER BY id')
    expect(rows.map((r) => r.v)).toEqual([1, 2])
  }))
})
