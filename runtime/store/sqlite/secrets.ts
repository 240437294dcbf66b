/** The `secrets` table: names, versions and timestamps in clear, values only as AES-256-GCM sealed bytes. */

import type { Database } from 'bun:sqlite'
import type { SealedValue, SecretMeta } from '../types.ts'

interface MetaRow { name: string; version: number; created_at: number; updated_at: number }

const toMeta = (r: MetaRow): SecretMeta => ({ name: r.name, version: r.version, createdAt: r.created_at, updatedAt: r.updated_at })

export class SecretRepo {
  constructor(private readonly db: Database) {}

  /** Creates or replaces a sealed value; the version starts at 1 and increments on each replace. */
  put(name: string, sealed: SealedValue, now: number): SecretMeta {
    const row = this.db.query<MetaRow, [string, Uint8Array, Uint8Array, Uint8Array, number, number]>(
      `INSERT INTO secrets (name, ciphertext, iv, tag, version, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)
       ON CONFLICT(name) DO UPDATE SET ciphertext = excluded.ciphertext, iv = excluded.iv, tag = excluded.tag,
         version = secrets.version + 1, updated_at = excluded.updated_at
       RETURNING name, version, created_at, updated_at`,
    ).get(name, sealed.ciphertext, sealed.iv, sealed.tag, now, now)
    if (!row) throw new Error(`secret ${name} was not written`)
    return toMeta(row)
  }

  sealed(name: string): SealedValue | undefined {
    return this.db.query<SealedValue, [string]>('SELECT ciphertext, iv, tag FROM secrets WHERE name = ?1').get(name) ?? undefined
  }

  /** Several sealed values from one read transaction (a consistent view). */
  sealedMany(names: readonly string[]): Map<string, SealedValue> {
    return this.db.transaction(() => {
      const out = new Map<string, SealedValue>()
      for (const n of names) {
        const s = this.sealed(n)
        if (s) out.set(n, s)
      }
      return out
    })()
  }

  meta(name: string): SecretMeta | undefined {
    const row = this.db.query<MetaRow, [string]>('SELECT name, version, created_at, updated_at FROM secrets WHERE name = ?1').get(name)
    return row ? toMeta(row) : undefined
  }

  list(): SecretMeta[] {
    return this.db.query<MetaRow, []>('SELECT name, version, created_at, updated_at FROM secrets ORDER BY name').all().map(toMeta)
  }

  delete(name: string): boolean {
    return this.db.query('DELETE FROM secrets WHERE name = ?1').run(name).changes > 0
  }
}
