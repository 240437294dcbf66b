/** API keys as the config gives them (`server.apiKeys`: a key, or `{ name, key }`) and the name each is known by. */
import { createHash } from 'node:crypto'
import { AppError, ErrorCode } from '../errors.ts'
import type { ApiKeyEntry } from './schema.ts'

/** A key with the name audit events record for it. */
export interface NamedApiKey {
  name: string
  key: string
}

/** The key text of an entry. */
export const apiKeyText = (e: ApiKeyEntry): string => (typeof e === 'string' ? e : e.key)

/**
 * The name of an entry: its own, or `sha256:` and the first 8 hex digits of the key's SHA-256 — stable, tells
 * keys apart, and says nothing usable about the key (`printf %s "$KEY" | sha256sum` finds which one it is).
 */
export function apiKeyName(e: ApiKeyEntry): string {
  if (typeof e !== 'string') return e.name
  return `sha256:${createHash('sha256').update(e, 'utf8').digest('hex').slice(0, 8)}`
}

/** Every key with its name; INVALID_CONFIG when two keys share a name (an audit trail must tell them apart). */
export function namedApiKeys(entries: readonly ApiKeyEntry[]): NamedApiKey[] {
  const out = entries.map((e) => ({ name: apiKeyName(e), key: apiKeyText(e) }))
  const seen = new Set<string>()
  for (const [i, k] of out.entries()) {
    if (seen.has(k.name)) {
      throw new AppError(ErrorCode.InvalidConfig, `server.apiKeys[${i}]: the name "${k.name}" is used by another key`, { path: `server.apiKeys[${i}].name` })
    }
    seen.add(k.name)
  }
  return out
}
