/** The store: one SQLite database, the repositories over it, and whether it can be written now. */

import type { Database } from 'bun:sqlite'
import { AuditRepo } from './audit.ts'
import { CheckpointWriter } from './checkpoint.ts'
import { openDatabase, type OpenOptions } from './db.ts'
import { ExecutionRepo } from './executions.ts'
import { isStorageFault, translateStorageFault } from './faults.ts'
import { WriteHealth } from '../health.ts'
import { LogRepo } from './logs.ts'
import { PluginGrantRepo } from './plugin-grants.ts'
import { WorkflowRepo } from './workflows.ts'

export interface TransactionOptions {
  /**
   * Fsync before returning (`synchronous = FULL` for this commit): for writes a caller is told are done —
   * an execution created, a workflow applied. Other commits are `NORMAL`: they survive a process crash,
   * and a power cut loses at most the commits since the last durable one (see docs/engine.md).
   */
  durable?: boolean
}

/** Shortest time between two write probes while the store is degraded. */
const PROBE_EVERY_MS = 1000

export class Store {
  readonly workflows: WorkflowRepo
  readonly executions: ExecutionRepo
  readonly logs: LogRepo
  readonly audit: AuditRepo
  readonly checkpoints: CheckpointWriter
  readonly pluginGrants: PluginGrantRepo
  /** Fed by every write made through `transaction`, and by the API's error mapping. */
  readonly health: WriteHealth
  /** The connection's own level (`PRAGMA synchronous`: 1 NORMAL, 2 FULL, 3 EXTRA), restored after a durable commit. */
  private readonly baseSync: number
  private probedAt = -Infinity

  constructor(readonly db: Database, readonly path: string, now: () => number = Date.now) {
    this.workflows = new WorkflowRepo(db)
    this.executions = new ExecutionRepo(db)
    this.logs = new LogRepo(db)
    this.audit = new AuditRepo(db)
    this.checkpoints = new CheckpointWriter(db)
    this.pluginGrants = new PluginGrantRepo(db)
    this.health = new WriteHealth(now)
    this.baseSync = db.query<{ synchronous: number }, []>('PRAGMA synchronous').get()?.synchronous ?? 1
  }

  /**
   * Runs `fn` in one write transaction (BEGIN IMMEDIATE). A storage fault (disk full, I/O error, read-only,
   * busy beyond the timeout) rolls it back and throws STORAGE_UNAVAILABLE; anything else is rethrown as is.
   */
  transaction<T>(fn: () => T, opts: TransactionOptions = {}): T {
    // The level cannot change inside a transaction: a nested call commits with its outer one.
    const raise = opts.durable === true && this.baseSync < 2 && !this.db.inTransaction
    try {
      if (raise) this.db.exec('PRAGMA synchronous = FULL')
      const out = this.db.transaction(fn).immediate()
      this.health.succeeded()
      return out
    } catch (e) {
      if (isStorageFault(e)) {
        const translated = translateStorageFault(e)
        this.health.failed(translated)
        throw translated
      }
      throw e
    } finally {
      if (raise) this.db.exec(`PRAGMA synchronous = ${this.baseSync}`)
    }
  }

  /**
   * While writes fail, rewrites one probe row (at most once a second) so that health turns back to `ok`
   * when the store is writable again even if nothing else writes; returns whether the store is writable.
   */
  probeWrite(now: number): boolean {
    if (!this.health.degraded) return true
    if (now - this.probedAt < PROBE_EVERY_MS) return false
    this.probedAt = now
    try {
      this.transaction(() => this.db.query('UPDATE store_probe SET at = ? WHERE id = 1').run(now))
      return true
    } catch {
      return false
    }
  }

  close(): void {
    this.db.close()
  }
}

export function openStore(path: string, opts?: OpenOptions): Store {
  return new Store(openDatabase(path, opts), path)
}

export * from '../types.ts'
export type { Transition, TransitionResult, TaskTransition, ExecutionTransition, AuditOnly } from '../checkpoint.ts'
export type { ListLogsQuery, LogPage } from './logs.ts'
export type { ListExecutionsQuery } from './executions.ts'
export type { PluginGrantRecord } from './plugin-grants.ts'
export type { WriteStatus, WriteHealthEvent } from '../health.ts'
