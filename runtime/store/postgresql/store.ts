/**
 * The PostgreSQL backend of the Store interface, on Bun's built-in client (`Bun.sql`: no dependency, native,
 * pooled). Every write is one transaction; `commit` batches every request of a turn into one transaction with a
 * savepoint per request, like SQLite's, and takes a transaction-scoped advisory lock first, so that commits on one
 * database apply one after another whichever node makes them: the concurrency rule counts and the cron ledger
 * check what every engine committed (SQLite gets the same from its single writer). The state rules are the
 * shared ones (runtime/state/); secrets arrive sealed (the engine encrypts, runtime/secrets/).
 */

import type { SQL } from 'bun'
import { ErrorCode } from '../../errors.ts'
import type { CommitBatch, CommitOutcome, CommitRequest, TransitionResult } from '../checkpoint.ts'
import { WriteHealth } from '../health.ts'
import type {
  AuditRepository, CronFireRepository, EngineRepository, ExecutionRepository, FileRepository, LogRepository, PluginGrantRepository,
  SecretRepository, Store, StoreWakeup, WorkflowRepository,
} from '../store.ts'
import { AuditRepo } from './audit.ts'
import { CheckpointWriter } from './checkpoint.ts'
import { ConcurrencyRepo } from './concurrency.ts'
import { DecisionRequestRepo } from './decision-requests.ts'
import { listen, notify, wakeupsOf } from './wakeups.ts'
import { CronFireRepo } from './cron-fires.ts'
import { LOCK_COMMIT, LOCK_SPACE, migrate, openPool, type PgOpenOptions } from './db.ts'
import { EngineProofs, EngineRepo } from './engines.ts'
import { ExecutionRepo } from './executions.ts'
import { isPgFault, translateOpenError, translatePgFault } from './faults.ts'
import { FileRepo } from './files.ts'
import { LogRepo } from './logs.ts'
import { PluginGrantRepo } from './plugin-grants.ts'
import { anyClaimable, claimQueued } from './queue-claims.ts'
import { SecretRepo } from './secrets.ts'
import { Q } from './sql.ts'
import { WorkflowRepo } from './workflows.ts'

const PROBE_EVERY_MS = 1000

class Refused {
  constructor(readonly result: TransitionResult) {}
}

export class PostgresStore implements Store {
  readonly backend = 'postgresql'
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
  private readonly proofs: EngineProofs
  private probedAt = -Infinity
  private closed = false

  /** `pool` is this backend's own (PostgreSQL-specific tests reach it here). */
  constructor(readonly pool: SQL, now: () => number = Date.now) {
    this.health = new WriteHealth(now)
    this.proofs = new EngineProofs(pool)
    const proofs = this.proofs
    const base = new Q(pool)
    const read = <T>(fn: (q: Q) => Promise<T>) => this.read(() => fn(base))
    const write = <T>(fn: (q: Q) => Promise<T>) => this.write(fn)
    this.workflows = {
      get: (id) => read((q) => new WorkflowRepo(q).get(id)),
      list: (opts) => read((q) => new WorkflowRepo(q).list(opts)),
      revisions: (id) => read((q) => new WorkflowRepo(q).revisions(id)),
      revision: (id, n) => read((q) => new WorkflowRepo(q).revision(id, n)),
      upsert: (w, source, now, key) => write(async (q) => {
        const r = await new WorkflowRepo(q).upsert(w, source, now, key)
        if (r.changed) await new AuditRepo(q).record(now, 'WORKFLOW_APPLIED', { workflowId: w.id }, { revision: r.record.revision, created: r.created })
        return r
      }),
      setEnabled: (id, enabled, now) => write((q) => new WorkflowRepo(q).setEnabled(id, enabled, now)),
      rotateWebhookKey: (id, key, now) => write(async (q) => {
        const wf = new WorkflowRepo(q)
        const prev = await wf.get(id, true)
        if (!prev || !(await wf.setWebhookKey(id, key))) return undefined
        await new AuditRepo(q).record(now, 'WEBHOOK_KEY_ROTATED', { workflowId: id }, { keyHint: key.hint, previousKeyHint: prev.webhookKey?.hint })
        return prev.webhookKey ? { previous: prev.webhookKey } : {}
      }),
      delete: (id, now) => write(async (q) => {
        const ok = await new WorkflowRepo(q).delete(id)
        if (ok) await new AuditRepo(q).record(now, 'WORKFLOW_DELETED', { workflowId: id })
        return ok
      }),
    }
    this.executions = {
      get: (id) => read((q) => new ExecutionRepo(q).get(id)),
      snapshot: (id) => this.snapshotRead((q) => new ExecutionRepo(q).snapshot(id)),
      taskRuns: (id) => this.snapshotRead((q) => new ExecutionRepo(q).taskRuns(id)),
      taskRun: (id, taskId) => this.snapshotRead((q) => new ExecutionRepo(q).taskRun(id, taskId)),
      list: (lq) => this.snapshotRead((q) => new ExecutionRepo(q).list(lq)),
      listActive: () => read((q) => new ExecutionRepo(q).listActive()),
      countByState: () => read((q) => new ExecutionRepo(q).countByState()),
      cancelRequests: (owner) => read((q) => new ConcurrencyRepo(q).cancelRequests(owner)),
      waitingOrder: (workflowId, n) => read((q) => new ConcurrencyRepo(q).oldestWaiting(workflowId, n)),
      decisionRequests: (owner) => read((q) => new DecisionRequestRepo(q).pending(owner)),
      decisionOutcome: (id) => read((q) => new DecisionRequestRepo(q).outcome(id)),
      endedChildren: (owner) => read((q) => new ExecutionRepo(q).endedChildren(owner)),
      purge: (before, limit) => this.write((q) => new FileRepo(q).purge(before, limit), true),
      claimQueued: async (owner, o) => {
        // A look without the commit lock first: an idle node's poll finds nothing most of the time.
        if (!(await read((q) => anyClaimable(q, { owner, ...o })))) return []
        const claimed = await this.write((q) => claimQueued(q, { owner, ...o }), true)
        // The engines they came from let them go now (wakeups.ts), not when they get to them.
        if (claimed.length > 0) notify(this.pool, { asked: [], ended: [], created: false, claimed: claimed.map((c) => ({ id: c.id, by: owner })) })
        return claimed
      },
    }
    this.files = {
      list: (id) => read((q) => new FileRepo(q).list(id)),
      get: (id, taskId, name) => read((q) => new FileRepo(q).get(id, taskId, name)),
      referenced: (shas) => read((q) => new FileRepo(q).referenced(shas)),
    }
    this.logs = {
      list: (lq) => read((q) => new LogRepo(q).list(lq)),
      count: (id) => read((q) => new LogRepo(q).count(id)),
    }
    this.audit = {
      forExecution: (id) => read((q) => new AuditRepo(q).forExecution(id)),
      list: (opts) => read((q) => new AuditRepo(q).list(opts)),
      record: (ts, type, ids, data) => write((q) => new AuditRepo(q).record(ts, type, ids, data)),
    }
    this.secrets = {
      put: (name, sealed, now) => write((q) => new SecretRepo(q).put(name, sealed, now)),
      sealed: (name) => read((q) => new SecretRepo(q).sealed(name)),
      sealedMany: (names) => read((q) => new SecretRepo(q).sealedMany(names)),
      meta: (name) => read((q) => new SecretRepo(q).meta(name)),
      list: () => read((q) => new SecretRepo(q).list()),
      delete: (name) => write((q) => new SecretRepo(q).delete(name)),
    }
    this.cronFires = {
      last: (id, index) => read((q) => new CronFireRepo(q).last(id, index)),
      list: (id) => read((q) => new CronFireRepo(q).list(id)),
      prune: (before) => write((q) => new CronFireRepo(q).prune(before)),
    }
    this.pluginGrants = {
      get: (plugin) => read((q) => new PluginGrantRepo(q).get(plugin)),
      list: () => read((q) => new PluginGrantRepo(q).list()),
      record: (entries, now, audits = []) => write(async (q) => {
        const grants = new PluginGrantRepo(q)
        const audit = new AuditRepo(q)
        for (const e of entries) await grants.record(e.plugin, e.version, e.grant, e.dir, now)
        for (const a of audits) await audit.record(now, a.type, {}, a.data)
      }),
    }
    this.engines = {
      proofMayLapse: true,
      // The proof first: a row others can see always has one (or says it has none, which they wait out).
      register: async (e, now) => {
        const proof = await proofs.hold(e.id)
        await write((q) => new EngineRepo(q).register(e, now, proof))
      },
      renew: async (id, now, until) => {
        const renewed = await write((q) => new EngineRepo(q).renew(id, now, until))
        if (renewed) await proofs.ensure()
        return renewed
      },
      list: () => read((q) => new EngineRepo(q).list()),
      liveness: (id) => read((q) => new EngineRepo(q).liveness(id)),
      // The row first: an engine whose release cannot be written keeps its proof until its handle closes or it exits.
      release: async (id) => { await write((q) => new EngineRepo(q).release(id)); await proofs.release(id) },
    }
  }

  async commit(batch: CommitBatch): Promise<CommitOutcome> {
    const outcome = await this.write(async (q) => {
      const results: TransitionResult[][] = []
      for (const r of batch.requests) results.push(await this.applyRequest(q, r, batch))
      return { results, logs: await new LogRepo(q).append(batch.logs ?? []) }
    }, true)
    // After the commit, for the other nodes (wakeups.ts): what it asked of them or ended.
    notify(this.pool, wakeupsOf(batch, outcome.results))
    return outcome
  }

  listen(onWake: (w: StoreWakeup) => void): Promise<() => Promise<void>> {
    return listen(this.pool, onWake)
  }

  ping(): Promise<void> {
    return this.read(async () => void await new Q(this.pool).get('SELECT 1 AS x'))
  }

  async probeWrite(now: number): Promise<boolean> {
    if (!this.health.degraded) return true
    if (now - this.probedAt < PROBE_EVERY_MS) return false
    this.probedAt = now
    try {
      await this.write((q) => q.run('UPDATE store_probe SET at = ? WHERE id = 1', [now]))
      return true
    } catch {
      return false
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.proofs.close()
    await this.pool.close({ timeout: 5 })
  }

  /** One request in its own savepoint: its failure is its own, unless the store itself failed. */
  private async applyRequest(q: Q, r: CommitRequest, batch: CommitBatch): Promise<TransitionResult[]> {
    const tx = q.sql as SQL & { savepoint<T>(fn: (sp: SQL) => Promise<T>): Promise<T> }
    try {
      return await tx.savepoint(async (sp) => {
        const spq = new Q(sp)
        return spq.settled(async () => {
          const results = await new CheckpointWriter(spq).apply(r.transitions, batch.at, batch.owner)
          const refused = r.atomic ? results.find((x) => !x.ok) : undefined
          if (refused) throw new Refused(refused)
          return results
        })
      })
    } catch (e) {
      if (e instanceof Refused) return r.transitions.map(() => e.result)
      // A storage fault aborts the batch: the caller retries it as one.
      if (isPgFault(e)) throw e
      const error = { code: ErrorCode.Internal, message: e instanceof Error ? e.message : String(e) }
      return r.transitions.map(() => ({ ok: false as const, error }))
    }
  }

  /** A read; a storage fault becomes STORAGE_UNAVAILABLE (health is about writes and is not told). */
  private async read<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      throw translatePgFault(e)
    }
  }

  /** Several statements that must agree (a snapshot and its runs): one REPEATABLE READ, read-only transaction. */
  private snapshotRead<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    return this.read(() => this.pool.begin('ISOLATION LEVEL REPEATABLE READ READ ONLY', (tx) => fn(new Q(tx))) as Promise<T>)
  }

  /**
   * One write transaction. `serialised` takes the commit lock first (see the header). A storage fault rolls it
   * back, is told to `health` and rejects as STORAGE_UNAVAILABLE; anything else is rethrown as is. Every commit
   * is durable (PostgreSQL's `synchronous_commit`, on by default), so CommitBatch.durable asks for nothing more.
   */
  private async write<T>(fn: (q: Q) => Promise<T>, serialised = false): Promise<T> {
    try {
      const out = await this.pool.begin(async (tx) => {
        const q = new Q(tx)
        return q.settled(async () => {
          if (serialised) await q.run('SELECT pg_advisory_xact_lock(?, ?)', [LOCK_SPACE, LOCK_COMMIT])
          return fn(q)
        })
      }) as T
      this.health.succeeded()
      return out
    } catch (e) {
      const translated = translatePgFault(e)
      if (translated !== e) this.health.failed(translated)
      throw translated
    }
  }
}

/** Opens (creating the schema and migrating when needed) the PostgreSQL store at `url`. */
export async function openPostgresStore(url: string, opts: PgOpenOptions = {}): Promise<PostgresStore> {
  const pool = openPool(url, opts)
  try {
    if (!opts.readonly) await migrate(pool)
    else await new Q(pool).get('SELECT 1 AS x')
  } catch (e) {
    await pool.close({ timeout: 0 }).catch(() => {})
    throw translateOpenError(e)
  }
  return new PostgresStore(pool)
}
