/** The grant each plugin's manifest asked for when the engine last loaded it, on PostgreSQL. */

import type { PermissionSet } from '../../workflow/model.ts'
import { normalizeGrant } from '../sqlite/plugin-grants.ts'
import type { PluginGrantRecord } from '../types.ts'
import type { Q } from './sql.ts'

interface Row { plugin: string; version: string; grant_json: string; dir: string; seen_at: number }

const toRecord = (r: Row): PluginGrantRecord =>
  ({ plugin: r.plugin, version: r.version, grant: JSON.parse(r.grant_json) as PermissionSet, dir: r.dir, seenAt: r.seen_at })

export class PluginGrantRepo {
  constructor(private readonly q: Q) {}

  async get(plugin: string): Promise<PluginGrantRecord | undefined> {
    const r = await this.q.get<Row>('SELECT * FROM plugin_grants WHERE plugin = ?', [plugin])
    return r ? toRecord(r) : undefined
  }

  async list(): Promise<PluginGrantRecord[]> {
    return (await this.q.all<Row>('SELECT * FROM plugin_grants ORDER BY plugin')).map(toRecord)
  }

  async record(plugin: string, version: string, grant: PermissionSet, dir: string, now: number): Promise<void> {
    await this.q.run(`INSERT INTO plugin_grants (plugin, version, grant_json, dir, seen_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (plugin) DO UPDATE SET version = excluded.version, grant_json = excluded.grant_json, dir = excluded.dir, seen_at = excluded.seen_at`,
    [plugin, version, JSON.stringify(normalizeGrant(grant)), dir, now])
  }
}
