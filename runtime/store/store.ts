/** The store: one SQLite database and the repositories over it. */

import type { Database } from 'bun:sqlite'
import { AuditRepo } from './audit.ts'
import { CheckpointWriter } from './checkpoint.ts'
import { openDatabase, type OpenOptions } from './db.ts'
import { ExecutionRepo } from './executions.ts'
import { LogRepo } from './logs.ts'
import { PluginGrantRepo } from './plugin-grants.ts'
import { WorkflowRepo } from './workflows.ts'

export class Store {
  readonly workflows: WorkflowRepo
  readonly executions: ExecutionRepo
  readonly logs: LogRepo
  readonly audit: AuditRepo
  readonly checkpoints: CheckpointWriter
  readonly pluginGrants: PluginGrantRepo

  constructor(readonly db: Database, readonly path: string) {
    this.workflows = new WorkflowRepo(db)
    this.executions = new ExecutionRepo(db)
    this.logs = new LogRepo(db)
    this.audit = new AuditRepo(db)
    this.checkpoints = new CheckpointWriter(db)
    this.pluginGrants = new PluginGrantRepo(db)
  }

  /** Runs `fn` in one write transaction (BEGIN IMMEDIATE). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate()
  }

  close(): void {
    this.db.close()
  }
}

export function openStore(path: string, opts?: OpenOptions): Store {
  return new Store(openDatabase(path, opts), path)
}

export * from './types.ts'
export type { Transition, TransitionResult, TaskTransition, ExecutionTransition, AuditOnly } from './checkpoint.ts'
export type { ListLogsQuery, LogPage } from './logs.ts'
export type { ListExecutionsQuery } from './executions.ts'
export type { PluginGrantRecord } from './plugin-grants.ts'
