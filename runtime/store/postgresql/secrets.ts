/**
 * The `secrets` table on PostgreSQL: names, versions and times in clear, values only as the AES-256-GCM sealed
 * bytes the engine made (runtime/secrets/): the database never receives a plaintext value or the key.
 */

import type { SealedValue, SecretMeta } from '../types.ts'
import { marks, type Q } from './sql.ts'

interface MetaRow { name: string; version: number; created_at: number; updated_at: number }
interface SealedRow { name: string; ciphertext: Uint8Array; iv: Uint8Array; tag: Uint8Array }

const toMeta = (r: MetaRow): SecretMeta => ({ name: r.name, version: r.version, createdAt: r.created_at, updatedAt: r.updated_at })
/** Plain Uint8Arrays, as SQLite gives them (Bun.sql answers BYTEA with Buffers). */
const bytes = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
const toSealed = (r: SealedRow): SealedValue => ({ ciphertext: bytes(r.ciphertext), iv: bytes(r.iv), tag: bytes(r.tag) })

export class SecretRepo {
  constructor(private readonly q: Q) {}

  async put(name: string, sealed: SealedValue, now: number): Promise<SecretMeta> {
    const row = await this.q.get<MetaRow>(`INSERT INTO secrets (name, ciphertext, iv, tag, version, created_at, updated_at)
       VALUES (?, ?, ?, ?, 1, ?, ?)
       ON CONFLICT (name) DO UPDATE SET ciphertext = excluded.ciphertext, iv = excluded.iv, tag = excluded.tag,
         version = secrets.version + 1, updated_at = excluded.updated_at
       RETURNING name, version, created_at, updated_at`, [name, sealed.ciphertext, sealed.iv, sealed.tag, now, now])
    if (!row) throw new Error(`secret ${name} was not written`)
    return toMeta(row)
  }

  async sealed(name: string): Promise<SealedValue | undefined> {
    const r = await this.q.get<SealedRow>('SELECT name, ciphertext, iv, tag FROM secrets WHERE name = ?', [name])
    return r ? toSealed(r) : undefined
  }

  /** Several sealed values from one statement (one snapshot: a consistent view). */
  async sealedMany(names: readonly string[]): Promise<Map<string, SealedValue>> {
    const out = new Map<string, SealedValue>()
    const unique = [...new Set(names)]
    if (unique.length === 0) return out
    for (const r of await this.q.all<SealedRow>(`SELECT name, ciphertext, iv, tag FROM secrets WHERE name IN (${marks(unique.length)})`, unique))
      out.set(r.name, toSealed(r))
    return out
  }

  async meta(name: string): Promise<SecretMeta | undefined> {
    const r = await this.q.get<MetaRow>('SELECT name, version, created_at, updated_at FROM secrets WHERE name = ?', [name])
    return r ? toMeta(r) : undefined
  }

  async list(): Promise<SecretMeta[]> {
    return (await this.q.all<MetaRow>('SELECT name, version, created_at, updated_at FROM secrets ORDER BY name')).map(toMeta)
  }

  async delete(name: string): Promise<boolean> {
    return (await this.q.run('DELETE FROM secrets WHERE name = ?', [name])) > 0
  }
}
