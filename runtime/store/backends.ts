/**
 * The storage backends, by `storage.type`: adding one (PostgreSQL, issue 19) is its folder beside sqlite/
 * plus one line here (docs/architecture.md, "Add a storage backend").
 */

import { redactUrl } from './url.ts'
import type { Config } from '../config/schema.ts'
import type { WarnFn } from '../private-files.ts'
import { openPostgresStore } from './postgresql/store.ts'
import { openSqliteStore } from './sqlite/store.ts'
import type { Store } from './store.ts'

export interface OpenStoreOptions {
  /** Open for reading only (inspection commands): nothing is created or migrated. */
  readonly?: boolean
  /** Told when an existing file's mode was narrowed, or the like (default: stderr). */
  onWarn?: WarnFn
}

type StorageConfig = Config['storage']

export interface StoreBackend {
  /** Opens (creating and migrating when needed) the store the config names. */
  open(storage: StorageConfig, opts: OpenStoreOptions): Promise<Store>
}

export const STORE_BACKENDS = {
  sqlite: { open: async (storage, opts) => openSqliteStore(storage.path, opts) },
  // The config loader refuses `postgresql` without a url (runtime/config/load.ts).
  postgresql: { open: (storage, opts) => openPostgresStore(storage.url ?? '', { readonly: opts.readonly ?? false }) },
} as const satisfies { [K in StorageConfig['type']]: StoreBackend }

/** Opens the store `storage` names (`storage.type` picks the backend). */
export function openStore(storage: StorageConfig, opts: OpenStoreOptions = {}): Promise<Store> {
  return STORE_BACKENDS[storage.type].open(storage, opts)
}

/** The store for a log line: the SQLite file, or the PostgreSQL URL without its password. */
export function describeStorage(storage: StorageConfig): string {
  if (storage.type === 'sqlite') return storage.path
  return `postgresql ${redactUrl(storage.url ?? '')}`
}
