/**
 * The cron scheduler: sleeps on the injected clock until the earliest next tick of any enabled
 * workflow, fires it through the engine, and records each tick in cron_fires inside the transaction
 * that creates its execution — the unique key makes every tick fire exactly once, across restarts and
 * across servers sharing one database. A tick the store cannot record (disk full…) is tried again until it
 * fires or its trigger's missed-tick policy says it was missed.
 */

import type { Clock } from '../../runtime/clock.ts'
import { systemClock } from '../../runtime/clock.ts'
import { ErrorCode } from '../../runtime/errors.ts'
import { isDuplicateFire } from '../../runtime/store/checkpoint.ts'
import type { Store } from '../../runtime/store/store.ts'
import type { TriggerInfo } from '../../runtime/store/types.ts'
import { isStorageUnavailable as isStorageFault } from '../../runtime/store/unavailable.ts'
import { dueTicks, nextFireTime } from '../../runtime/triggers/cron-schedule.ts'
import { entryKey, orderedEntries, replan, type Plan, type PlanEntry } from './cron-plan.ts'

/** How long fired ticks stay in the ledger (the newest per trigger always stays). */
export const FIRE_RETENTION_MS = 24 * 3_600_000

/** How long the scheduler waits before trying again when the store cannot be written. */
export const STORAGE_RETRY_MS = 1000

/** What the scheduler needs of the engine (the real `Engine` satisfies it). */
export interface CronEngine {
  readonly store: Store
  /** Creates the execution and records its tick in one commit; CONFLICT (`details.duplicateFire`) for a tick fired already. */
  start(
    req: { workflowId: string; inputs: Record<string, unknown>; trigger: TriggerInfo },
    opts: { cronFire: { triggerIndex: number; scheduledAt: number } },
  ): Promise<{ id: string }>
}

/** Identifies one tick of one trigger. */
export interface TickRef {
  workflowId: string
  triggerIndex: number
  scheduledAt: number
}

export type SchedulerEvent =
  | ({ type: 'fired'; executionId: string } & TickRef)
  /** Another scheduler (a second server, or this one before a restart) fired this tick already. */
  | ({ type: 'duplicate' } & TickRef)
  /** The workflow was disabled, deleted or edited between planning and firing. */
  | ({ type: 'skipped' } & TickRef)

export interface SchedulerStats {
  fired: number
  duplicates: number
  skipped: number
  errors: number
}

export interface SchedulerOptions {
  engine: CronEngine
  /** Must be the engine's store (the fire is recorded in the engine's transaction); defaults to it. */
  store?: Store
  clock?: Clock
  /** A tick that could not fire (e.g. INVALID_INPUT: a required input without default), or a broken plan. */
  onError?: (error: unknown, at: Partial<TickRef>) => void
  onEvent?: (event: SchedulerEvent) => void
  /** How late the newest tick may be and still fire under `missed: skip` (see `missedTicks`). Default 60 s. */
  graceMs?: number
  /**
   * The longest sleep. Each wake re-reads the workflows, which picks up changes made by another server
   * on the same database; it also keeps timers below setTimeout's 24.8-day limit. Default 60 s.
   */
  replanMs?: number
}

export interface Scheduler {
  /** Plans from the store and starts the loop; ticks missed while stopped follow each trigger's policy. */
  start(): void
  /** Stops the loop after the fire in progress, if any. */
  stop(): Promise<void>
  /** Re-plans now: call after a workflow is applied, enabled, disabled or deleted. */
  refresh(): void
  /** Resolves once the loop is asleep with nothing due (tests step a manual clock with it). */
  settled(): Promise<void>
  /** When the loop will next wake, while it sleeps. */
  nextWakeAt(): number | undefined
  stats(): SchedulerStats
}

/** Creates a stopped scheduler. */
export function createScheduler(opts: SchedulerOptions): Scheduler {
  const { engine } = opts
  const store = opts.store ?? engine.store
  if (store !== engine.store) throw new Error('createScheduler: store must be the engine\'s store')
  const clock = opts.clock ?? systemClock
  const graceMs = opts.graceMs ?? 60_000
  const replanMs = opts.replanMs ?? 60_000
  const onError = opts.onError ?? (() => {})
  const emit = opts.onEvent ?? (() => {})
  const stats: SchedulerStats = { fired: 0, duplicates: 0, skipped: 0, errors: 0 }

  let running = false
  let loopDone: Promise<void> = Promise.resolve()
  let plan: Plan = new Map()
  let dirty = true
  let plannedAt = -Infinity
  let sleeper: AbortController | undefined
  let wakeAt: number | undefined
  let idleWaiters: (() => void)[] = []
  /** The store refused a write: report the first refusal of a burst only, and retry after STORAGE_RETRY_MS. */
  let storageDown = false
  let storageRetry = false

  const report = (e: unknown, at: Partial<TickRef>) => {
    if (isStorageFault(e)) {
      if (storageDown) return
      storageDown = true
    }
    onError(e, at)
  }

  const flushIdle = () => {
    const waiters = idleWaiters
    idleWaiters = []
    for (const w of waiters) w()
  }
  const isIdle = () => !running || (sleeper !== undefined && wakeAt !== undefined && !dirty && clock.now() < wakeAt)

  /** Fires one tick; false when the store could not be written (the tick is left due, to try again). */
  async function fire(entry: PlanEntry, scheduledAt: number): Promise<boolean> {
    const tick: TickRef = { workflowId: entry.workflowId, triggerIndex: entry.triggerIndex, scheduledAt }
    const skipped = () => {
      dirty = true
      stats.skipped++
      emit({ type: 'skipped', ...tick })
      return true
    }
    const rec = await store.workflows.get(entry.workflowId)
    const t = rec?.workflow.triggers[entry.triggerIndex]
    // The trigger was edited since we planned (a deleted or disabled workflow is the engine's to refuse, below).
    if (rec && (t?.type !== 'cron' || entryKey(rec.id, entry.triggerIndex, t) !== entryKey(entry.workflowId, entry.triggerIndex, entry.trigger))) return skipped()
    // Never fire at or behind the ledger's newest tick: it was fired, or deliberately passed over by the
    // scheduler that fired a later one (and it may have been pruned since).
    const head = await store.cronFires.last(entry.workflowId, entry.triggerIndex)
    if (head !== undefined && scheduledAt <= head) {
      stats.duplicates++
      emit({ type: 'duplicate', ...tick })
      return true
    }
    const data: Record<string, unknown> = { triggerIndex: entry.triggerIndex, cron: entry.trigger.cron }
    if (entry.trigger.timezone) data.timezone = entry.trigger.timezone
    try {
      // The tick is recorded in the commit that creates the execution: the ledger's key refuses a tick fired
      // (or passed over) by anyone since, and then nothing is created.
      const ex = await engine.start({ workflowId: entry.workflowId, inputs: {}, trigger: { type: 'cron', data, scheduledAt } },
        { cronFire: { triggerIndex: entry.triggerIndex, scheduledAt } })
      stats.fired++
      emit({ type: 'fired', executionId: ex.id, ...tick })
    } catch (e) {
      if (isDuplicateFire(e)) {
        stats.duplicates++
        emit({ type: 'duplicate', ...tick })
        return true
      }
      // The engine's admission rule (actors/supervisor/admission.ts) refused: the workflow is gone or disabled, even
      // when another server disabled it since we planned. Disabled workflows never fire.
      const code = (e as { code?: unknown } | null)?.code
      if (code === ErrorCode.WorkflowDisabled || code === ErrorCode.NotFound) return skipped()
      stats.errors++
      report(e, tick)
      if (isStorageFault(e)) {
        // Nothing was recorded: the tick stays due (the missed-tick policy decides if it is still worth firing).
        entry.cursor = Math.min(entry.cursor, scheduledAt - 1)
        return false
      }
    }
    return true
  }

  /** One pass: re-plan when needed, fire every due tick; returns when to wake next. */
  async function pass(): Promise<number> {
    const now = clock.now()
    if (dirty || now - plannedAt >= replanMs) {
      dirty = false
      plannedAt = now
      plan = await replan(store, plan, (workflowId, triggerIndex, e) => onError(e, { workflowId, triggerIndex }))
      await store.cronFires.prune(now - FIRE_RETENTION_MS)
    }
    for (const entry of orderedEntries(plan)) {
      const ticks = dueTicks(entry.cron, entry.trigger, entry.cursor, now, graceMs)
      entry.cursor = Math.max(entry.cursor, now)
      for (const t of ticks) {
        if (!running) break
        if (!(await fire(entry, t))) {
          // The store refused: later ticks of this trigger wait too, the other triggers get their turn.
          storageRetry = true
          break
        }
      }
    }
    if (storageRetry) {
      storageRetry = false
      return clock.now() + STORAGE_RETRY_MS
    }
    storageDown = false
    let next = plannedAt + replanMs
    for (const entry of plan.values()) next = Math.min(next, nextFireTime(entry.cron, entry.cursor) ?? Infinity)
    return next
  }

  async function loop(): Promise<void> {
    while (running) {
      let next: number
      try {
        next = await pass()
      } catch (e) {
        // A broken pass (e.g. the database is busy for too long) must not kill the scheduler: retry later.
        report(e, {})
        next = clock.now() + Math.min(replanMs, 1000)
      }
      if (!running) break
      if (dirty) continue
      const wait = next - clock.now()
      if (wait <= 0) {
        // A tick came due while firing: go again, but let the event loop breathe first.
        await new Promise((r) => setTimeout(r, 0))
        continue
      }
      sleeper = new AbortController()
      wakeAt = next
      flushIdle()
      try {
        await clock.sleep(wait, sleeper.signal)
      } catch {
        // Aborted by refresh() or stop().
      }
      sleeper = undefined
      wakeAt = undefined
    }
    flushIdle()
  }

  return {
    start() {
      if (running) return
      running = true
      dirty = true
      loopDone = loop()
    },
    async stop() {
      running = false
      sleeper?.abort()
      await loopDone
    },
    refresh() {
      dirty = true
      sleeper?.abort()
    },
    async settled() {
      while (!isIdle()) await new Promise<void>((r) => idleWaiters.push(r))
    },
    nextWakeAt: () => wakeAt,
    stats: () => ({ ...stats }),
  }
}
