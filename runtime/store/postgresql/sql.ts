/**
 * The one way this backend talks to PostgreSQL: `Q`, a connection (the pool, a transaction or a savepoint of
 * Bun.sql) with SQLite-shaped `get`/`all`/`run`, so the repositories read like their SQLite siblings. SQL is
 * written with `?` placeholders (numbered `$1…` here, once per text) and always sent with its parameters
 * apart, never spliced. Bun.sql is opened with `bigint: true`: every BIGINT (a millisecond time, a COUNT, a
 * log id) arrives as a BigInt and is turned into a number here, so no caller sees a string where it wrote a
 * number (every value we store fits in 2^53).
 */

import type { SQL } from 'bun'

/** A value bound to a placeholder. */
export type Param = string | number | boolean | null | Uint8Array

const numbered = new Map<string, string>()
/** Distinct texts kept numbered; past it the cache starts over (texts vary only by their row and list counts). */
const CACHE_TEXTS = 2000

/** `?` → `$n`, outside string literals and quoted names. */
export function numberPlaceholders(text: string): string {
  const hit = numbered.get(text)
  if (hit !== undefined) return hit
  if (numbered.size >= CACHE_TEXTS) numbered.clear()
  let out = ''
  let n = 0
  let quote: string | undefined
  for (const ch of text) {
    if (quote) { if (ch === quote) quote = undefined; out += ch; continue }
    if (ch === "'" || ch === '"') { quote = ch; out += ch; continue }
    out += ch === '?' ? `$${++n}` : ch
  }
  numbered.set(text, out)
  return out
}

function plain(row: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(row)) {
    const v = row[k]
    if (typeof v === 'bigint') row[k] = Number(v)
  }
  return row
}

export class Q {
  /** Statements sent with `send` whose answers nobody awaited yet, in the order they were sent. */
  private sent: Promise<number>[] = []

  constructor(readonly sql: SQL) {}

  /**
   * Sends a write without waiting for its answer, for a statement whose answer nothing here reads (an audit row, an
   * attempt's update). Bun.sql pipelines it on this transaction's connection: PostgreSQL runs it after what was
   * sent before and before what is sent next, so a later read sees it, and a transaction of many such writes costs
   * one round trip for them instead of one each (a commit holds the commit lock for its round trips). The caller
   * that opened the transaction or savepoint ends it through `settled`, which waits for every answer.
   */
  send(text: string, params: readonly Param[] = []): void {
    const answer = this.run(text, params)
    answer.catch(() => {}) // observed by `settled`; never an unhandled rejection meanwhile
    this.sent.push(answer)
  }

  /**
   * Runs `fn` (the body of a transaction or savepoint on this Q), then waits for everything it sent. A statement sent
   * that failed is what fails the body — not the `25P02` (transaction aborted) that any later statement then gets,
   * which would hide a storage fault behind a bad-statement error.
   */
  async settled<T>(fn: () => Promise<T>): Promise<T> {
    let out: T
    try {
      out = await fn()
    } catch (e) {
      const failure = await this.firstFailure()
      throw failure ? failure.e : e
    }
    const failure = await this.firstFailure()
    if (failure) throw failure.e
    return out
  }

  /**
   * Waits for every statement sent; the first one's failure, in the order sent, wrapped (so that even a rejection
   * with `undefined` is one); undefined when all succeeded.
   */
  private async firstFailure(): Promise<{ e: unknown } | undefined> {
    const sent = this.sent
    this.sent = []
    let first: { e: unknown } | undefined
    for (const answer of sent) {
      try { await answer } catch (e) { first ??= { e } }
    }
    return first
  }

  async all<T>(text: string, params: readonly Param[] = []): Promise<T[]> {
    const rows = (await this.sql.unsafe(numberPlaceholders(text), [...params])) as Record<string, unknown>[]
    return rows.map((r) => plain({ ...r }) as T)
  }

  async get<T>(text: string, params: readonly Param[] = []): Promise<T | undefined> {
    return (await this.all<T>(text, params))[0]
  }

  /** Runs a statement; resolves with the number of rows it changed. */
  async run(text: string, params: readonly Param[] = []): Promise<number> {
    const r = (await this.sql.unsafe(numberPlaceholders(text), [...params])) as { count?: number | null }
    return r.count ?? 0
  }

  /** Several statements with no parameters (migrations). */
  async exec(text: string): Promise<void> {
    await this.sql.unsafe(text)
  }
}

/** `?, ?, ?` for `n` values (an IN list). */
export const marks = (n: number): string => Array.from({ length: n }, () => '?').join(', ')

/** Rows per multi-row INSERT: well under PostgreSQL's 65,535 parameters per statement, and few distinct texts. */
export const ROWS_PER_INSERT = 500

/**
 * `INSERT … VALUES (row), (row)… <tail>` for every row, in statements of at most ROWS_PER_INSERT rows (a forEach's
 * 10,000 iterations would pass the parameter limit in one); resolves with the rows changed in all.
 */
export async function insertRows(q: Q, head: string, row: string, rows: readonly Param[][], tail = ''): Promise<number> {
  let changed = 0
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    const chunk = rows.slice(i, i + ROWS_PER_INSERT)
    changed += await q.run(`${head} VALUES ${chunk.map(() => row).join(', ')} ${tail}`, chunk.flat())
  }
  return changed
}
