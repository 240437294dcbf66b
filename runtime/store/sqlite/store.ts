/**
 * The SQLite backend of the Store interface: one database file (WAL), the synchronous repositories over it
 * (the SQL lives in this folder only), and the commit that batches every request of a turn into one
 * BEGIN IMMEDIATE transaction with a savepoint per request. bun:sqlite is synchronous: each async method does
 * its work before it returns, so the interface costs a resolved promise, never a thread hop.
 */

import type { Database } from 'bun:sqlite'
import { ErrorCode } from '../../errors.ts'
import type { CommitBatch, CommitOutcome, CommitRequest, TransitionResult } from '../checkpoint.ts'
import { WriteHealth } from '../health.ts'
import type {
  AuditRepository, CronFireRepository, EngineRepository, ExecutionRepository, FileRepository, LogRepository, PluginGrantRepository,
  SecretRepository, Store, WorkflowRepository,
} from '../store.ts'
import { AuditRepo } from './audit.ts'
import { CheckpointWriter } from './checkpoint.ts'
import { CronFireRepo } from './cron-fires.ts'
import { openDatabase, type OpenOptions } from './db.ts'
import { EngineLocks } from './engine-locks.ts'
import { EngineRepo } from './engines.ts'
import { ConcurrencyRepo } from './concurrency.ts'
import { DecisionRequestRepo } from './decision-requests.ts'
import { ExecutionRepo } from './executions.ts'
import { FileRepo } from './files.ts'
import { isSqliteFault, translateSqliteFault } from './faults.ts'
import { LogRepo } from './logs.ts'
import { PluginGrantRepo } from './plugin-grants.ts'
import { SecretRepo } from './secrets.ts'
import { WorkflowRepo } from './workflows.ts'

/** Shortest time between two write probes while the store is degraded. */
const PROBE_EVERY_MS = 1000

/** An atomic request had a transition refused: its savepoint rolls back, and every result is that refusal. */
class Refused {
  constructor(readonly result: TransitionResult) {}
}

export class SqliteStore implements Store {
  readonly backend = 'sqlite'
  readonly workflows: WorkflowRepository
  readonly executions: ExecutionRepository
  readonly logs: LogRepository
  readonly audit: AuditRepository
  readonly secrets: SecretRepository
  readonly cronFires: CronFireRepository
  readonly pluginGrants: PluginGrantRepository
  readonly engines: EngineRepository
  readonly files: FileRepository
  readonly health: WriteHealth
  private readonly writer: CheckpointWriter
  private readonly logRepo: LogRepo
  private readonly engineLocks: EngineLocks
  /** The connection's own level (`PRAGMA synchronous`: 1 NORMAL, 2 FULL, 3 EXTRA), restored after a durable commit. */
  private readonly baseSync: number
  private probedAt = -Infinity
  private closed = false

  /** `db` is this backend's own: SQLite-specific tests reach it here; nothing outside runtime/store/sqlite/ does. */
  constructor(readonly db: Database, readonly path: string, now: () => number = Date.now) {
    this.health = new WriteHealth(now)
    this.engineLocks = new EngineLocks(path === ':memory:' ? undefined : path)
    const locks = this.engineLocks
    this.baseSync = db.query<{ synchronous: number }, []>('PRAGMA synchronous').get()?.synchronous ?? 1
    this.writer = new CheckpointWriter(db)
    this.logRepo = new LogRepo(db)
    const read = <T>(fn: () => T) => this.read(fn)
    const write = <T>(fn: () => T, durable = false) => this.write(fn, durable)
    const wf = new WorkflowRepo(db)
    const ex = new ExecutionRepo(db)
    const audit = new AuditRepo(db)
    const secrets = new SecretRepo(db)
    const fires = new CronFireRepo(db)
    const grants = new PluginGrantRepo(db)
    const engines = new EngineRepo(db)
    const slots = new ConcurrencyRepo(db)
    const decisions = new DecisionRequestRepo(db)
    const files = new FileRepo(db)
    this.workflows = {
      get: (id) => read(() => wf.get(id)),
      list: (opts) => read(() => wf.list(opts)),
      revisions: (id) => read(() => wf.revisions(id)),
      revision: (id, n) => read(() => wf.revision(id, n)),
      upsert: (w, source, now, key) => write(() => {
        const r = wf.upsert(w, source, now, key)
        if (r.changed) audit.record(now, 'WORKFLOW_APPLIED', { workflowId: w.id }, { revision: r.record.revision, created: r.created })
        return r
      }, true),
      setEnabled: (id, enabled, now) => write(() => wf.setEnabled(id, enabled, now), true),
      rotateWebhookKey: (id, key, now) => write(() => {
        const prev = wf.get(id)
        if (!prev || !wf.setWebhookKey(id, key)) return undefined
        audit.record(now, 'WEBHOOK_KEY_ROTATED', { workflowId: id }, { keyHint: key.hint, previousKeyHint: prev.webhookKey?.hint })
        return prev.webhookKey ? { previous: prev.webhookKey } : {}
      }),
      delete: (id, now) => write(() => {
        const ok = wf.delete(id)
        if (ok) audit.record(now, 'WORKFLOW_DELETED', { workflowId: id })
        return ok
      }, true),
    }
    this.executions = {
      get: (id) => read(() => ex.get(id)),
      snapshot: (id) => read(() => ex.snapshot(id)),
      taskRuns: (id) => read(() => ex.taskRuns(id)),
      taskRun: (id, taskId) => read(() => ex.taskRun(id, taskId)),
      list: (q) => read(() => ex.list(q)),
      listActive: () => read(() => ex.listActive()),
      countByState: () => read(() => ex.countByState()),
      cancelRequests: (owner) => read(() => slots.cancelRequests(owner)),
      waitingOrder: (workflowId, n) => read(() => slots.oldestWaiting(workflowId, n)),
      decisionRequests: (owner) => read(() => decisions.pending(owner)),
      decisionOutcome: (id) => read(() => decisions.outcome(id)),
      endedChildren: (owner) => read(() => ex.endedChildren(owner)),
      purge: (before, limit) => write(() => files.purge(before, limit), true),
    }
    this.files = {
      list: (id) => read(() => files.list(id)),
      get: (id, taskId, name) => read(() => files.get(id, taskId, name)),
      referenced: (shas) => read(() => files.referenced(shas)),
    }
    this.logs = {
      list: (q) => read(() => this.logRepo.list(q)),
      count: (id) => read(() => this.logRepo.count(id)),
    }
    this.audit = {
      forExecution: (id) => read(() => audit.forExecution(id)),
      list: (opts) => read(() => audit.list(opts)),
      record: (ts, type, ids, data) => write(() => audit.record(ts, type, ids, data)),
    }
    this.secrets = {
      put: (name, sealed, now) => write(() => secrets.put(name, sealed, now)),
      sealed: (name) => read(() => secrets.sealed(name)),
      sealedMany: (names) => read(() => secrets.sealedMany(names)),
      meta: (name) => read(() => secrets.meta(name)),
      list: () => read(() => secrets.list()),
      delete: (name) => write(() => secrets.delete(name)),
    }
    this.cronFires = {
      last: (id, index) => read(() => fires.last(id, index)),
      list: (id) => read(() => fires.list(id)),
      prune: (before) => write(() => fires.prune(before)),
    }
    this.pluginGrants = {
      get: (plugin) => read(() => grants.get(plugin)),
      list: () => read(() => grants.list()),
      record: (entries, now, audits = []) => write(() => {
        for (const e of entries) grants.record(e.plugin, e.version, e.grant, e.dir, now)
        for (const a of audits) audit.record(now, a.type, {}, a.data)
      }),
    }
    this.engines = {
      proofMayLapse: false,
      // The proof first: a row others can see always has one (or never will, which they wait out).
      register: (e, now) => { locks.hold(e.id); return write(() => engines.register(e, now)) },
      renew: (id, now, until) => write(() => engines.renew(id, now, until)),
      list: () => read(() => engines.list()),
      liveness: async (id) => locks.liveness(id),
      // The row first: an engine whose release cannot be written keeps its proof until its handle closes or it exits.
      release: async (id) => { await write(() => engines.release(id)); locks.release(id) },
    }
  }

  commit(batch: CommitBatch): Promise<CommitOutcome> {
    return this.write(() => ({
      results: batch.requests.map((r) => this.applyRequest(r, batch)),
      logs: this.logRepo.append(batch.logs ?? []),
    }), batch.durable === true)
  }

  ping(): Promise<void> {
    return this.read(() => void this.db.query('SELECT 1').get())
  }

  async probeWrite(now: number): Promise<boolean> {
    if (!this.health.degraded) return true
    if (now - this.probedAt < PROBE_EVERY_MS) return false
    this.probedAt = now
    try {
      await this.write(() => this.db.query('UPDATE store_probe SET at = ? WHERE id = 1').run(now), false)
      return true
    } catch {
      return false
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.db.close()
    this.engineLocks.close()
  }

  /** One request in its own savepoint: its failure is its own, unless the store itself failed. */
  private applyRequest(r: CommitRequest, batch: CommitBatch): TransitionResult[] {
    try {
      return this.db.transaction(() => {
        const results = this.writer.apply(r.transitions, batch.at, batch.owner)
        const refused = r.atomic ? results.find((x) => !x.ok) : undefined
        if (refused) throw new Refused(refused)
        return results
      })()
    } catch (e) {
      if (e instanceof Refused) return r.transitions.map(() => e.result)
      // A storage fault (or SQLite rolling the whole transaction back) aborts the batch: the caller retries it as one.
      if (isSqliteFault(e) || !this.db.inTransaction) throw e
      // Not an ErrorInfo spread: an Error's message is not an own property, and would be lost.
      const error = { code: ErrorCode.Internal, message: e instanceof Error ? e.message : String(e) }
      return r.transitions.map(() => ({ ok: false as const, error }))
    }
  }

  /** A read; a storage fault becomes STORAGE_UNAVAILABLE (health is about writes and is not told). */
  private async read<T>(fn: () => T): Promise<T> {
    try {
      return fn()
    } catch (e) {
      throw translateSqliteFault(e)
    }
  }

  /**
   * One write transaction (BEGIN IMMEDIATE). A storage fault rolls it back, is told to `health` and rejects as
   * STORAGE_UNAVAILABLE; anything else is rethrown as is. `durable` fsyncs before resolving
   * (`synchronous = FULL` for this commit only).
   */
  private async write<T>(fn: () => T, durable: boolean): Promise<T> {
    // The level cannot change inside a transaction: a nested call commits with its outer one.
    const raise = durable && this.baseSync < 2 && !this.db.inTransaction
    try {
      if (raise) this.db.exec('PRAGMA synchronous = FULL')
      const out = this.db.transaction(fn).immediate()
      this.health.succeeded()
      return out
    } catch (e) {
      const translated = translateSqliteFault(e)
      if (translated !== e) this.health.failed(translated)
      throw translated
    } finally {
      if (raise) this.db.exec(`PRAGMA synchronous = ${this.baseSync}`)
    }
  }
}

/** Opens (creating and migrating when needed) the SQLite store at `path`. */
export function openSqliteStore(path: string, opts?: OpenOptions): SqliteStore {
  return new SqliteStore(openDatabase(path, opts), path)
}

export type { OpenOptions } from './db.ts'
