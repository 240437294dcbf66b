/** The grant each plugin's manifest asked for when the engine last loaded it (migration 4). */

import type { Database } from 'bun:sqlite'
import type { PermissionSet } from '../../workflow/model.ts'
import type { PluginGrantRecord } from '../types.ts'

interface Row { plugin: string; version: string; grant_json: string; dir: string; seen_at: number }

const toRecord = (r: Row): PluginGrantRecord =>
  ({ plugin: r.plugin, version: r.version, grant: JSON.parse(r.grant_json) as PermissionSet, dir: r.dir, seenAt: r.seen_at })

/** A grant in one spelling (lists sorted, duplicates and empty parts dropped), so equal grants compare equal. */
export function normalizeGrant(g: PermissionSet): PermissionSet {
  const sorted = (xs: string[] | undefined) => (xs?.length ? [...new Set(xs)].sort() : undefined)
  const out: PermissionSet = {}
  const network = sorted(g.network)
  const read = sorted(g.filesystem?.read)
  const write = sorted(g.filesystem?.write)
  const env = sorted(g.env)
  const run = sorted(g.run)
  if (network) out.network = network
  if (read || write) out.filesystem = { ...(read ? { read } : {}), ...(write ? { write } : {}) }
  if (env) out.env = env
  if (run) out.run = run
  return out
}

export class PluginGrantRepo {
  constructor(private readonly db: Database) {}

  get(plugin: string): PluginGrantRecord | undefined {
    const r = this.db.query<Row, [string]>('SELECT * FROM plugin_grants WHERE plugin = ?').get(plugin)
    return r ? toRecord(r) : undefined
  }

  list(): PluginGrantRecord[] {
    return this.db.query<Row, []>('SELECT * FROM plugin_grants ORDER BY plugin').all().map(toRecord)
  }

  /** Stores the grant seen now; returns what was recorded before (undefined the first time). */
  record(plugin: string, version: string, grant: PermissionSet, dir: string, now: number): PluginGrantRecord | undefined {
    const previous = this.get(plugin)
    this.db.query(`INSERT INTO plugin_grants (plugin, version, grant_json, dir, seen_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (plugin) DO UPDATE SET version = excluded.version, grant_json = excluded.grant_json, dir = excluded.dir, seen_at = excluded.seen_at`)
      .run(plugin, version, JSON.stringify(normalizeGrant(grant)), dir, now)
    return previous
  }
}
