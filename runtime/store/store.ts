/** The store: for now the SQLite implementation (runtime/store/sqlite/), re-exported. */

export * from './sqlite/store.ts'
