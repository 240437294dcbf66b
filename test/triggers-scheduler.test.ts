/** The cron scheduler on a manual clock: wake-ups, exactly-once across schedulers and restarts, missed ticks, disabled workflows. */

import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import { ManualClock } from '../runtime/clock.ts'
import { createScheduler, type Scheduler, type SchedulerOptions } from '../actors/triggers/cron-scheduler.ts'
import type { SqliteStore } from '../runtime/store/sqlite/store.ts'
import { advanceTo, applyWorkflow, cronRuns, StandInEngine, tempDb, workflowYaml } from './triggers-fixtures.ts'

const T0 = Date.parse('2025-01-01T00:00:00Z')
const MIN = 60_000
const HOUR = 60 * MIN

let db: ReturnType<typeof tempDb>
let clock: ManualClock
const stores: SqliteStore[] = []
const schedulers: Scheduler[] = []

function open(): SqliteStore {
  const s = db.open()
  stores.push(s)
  return s
}
function scheduler(store: SqliteStore, opts: Partial<SchedulerOptions> = {}): { s: Scheduler; engine: StandInEngine } {
  const engine = new StandInEngine(store, clock)
  const s = createScheduler({ store, engine, clock, ...opts })
  schedulers.push(s)
  return { s, engine }
}

beforeEach(() => {
  db = tempDb()
  clock = new ManualClock(T0 + 10_000)
})
afterEach(async () => {
  for (const s of schedulers.splice(0)) await s.stop()
  for (const s of stores.splice(0)) s.close()
  db.cleanup()
})

describe('cron scheduler', () => {
  it('sleeps until the next fire time and fires each tick once, with cron trigger metadata', async () => {
    const store = open()
    await applyWorkflow(store, workflowYaml('every-min', ['{type: cron, cron: "* * * * *"}']), clock.now())
    const { s } = scheduler(store, { replanMs: 24 * HOUR })
    s.start()
    await s.settled()
    expect(s.nextWakeAt()).toBe(T0 + MIN) // no fixed polling interval: exactly the next tick
    await advanceTo(clock, T0 + 3 * MIN + 30_000, s)
    const runs = await cronRuns(store, 'every-min')
    expect(runs.map((r) => r.trigger.scheduledAt)).toEqual([T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN])
    expect(runs[0]!.trigger).toEqual({ type: 'cron', data: { triggerIndex: 0, cron: '* * * * *' }, scheduledAt: T0 + MIN })
    expect((await store.cronFires.list('every-min')).map((f) => f.executionId)).toEqual(runs.map((r) => r.id))
    expect(s.stats()).toMatchObject({ fired: 3, duplicates: 0 })
  })

  it('plans every cron trigger of every enabled workflow, in time zone', async () => {
    const store = open()
    await applyWorkflow(store, workflowYaml('two', ['{type: cron, cron: "0 2 * * *", timezone: Europe/Paris}', '{type: cron, cron: "30 0 * * *"}']), clock.now())
    const { s } = scheduler(store)
    s.start()
    await advanceTo(clock, T0 + 2 * HOUR, s)
    expect((await cronRuns(store, 'two')).map((r) => [r.trigger.data?.triggerIndex, r.trigger.scheduledAt])).toEqual([
      [1, T0 + 30 * MIN], // 00:30 UTC
      [0, T0 + HOUR], // 02:00 Paris (CET) = 01:00 UTC
    ])
  })

  it('re-plans on refresh: a newly applied workflow fires at its first tick', async () => {
    const store = open()
    const { s } = scheduler(store, { replanMs: 24 * HOUR })
    s.start()
    await s.settled()
    expect(s.nextWakeAt()).toBe(clock.now() + 24 * HOUR)
    await applyWorkflow(store, workflowYaml('late', ['{type: cron, cron: "*/5 * * * *"}']), clock.now())
    s.refresh()
    await s.settled()
    expect(s.nextWakeAt()).toBe(T0 + 5 * MIN)
    await advanceTo(clock, T0 + 5 * MIN, s)
    expect(await cronRuns(store, 'late')).toHaveLength(1)
  })
})

describe('exactly once per tick', () => {
  it('two schedulers on two handles of one database file create one execution per tick', async () => {
    const a = open()
    const b = open()
    await applyWorkflow(a, workflowYaml('shared', ['{type: cron, cron: "* * * * *"}']), clock.now())
    const sa = scheduler(a).s
    const sb = scheduler(b).s
    sa.start()
    sb.start()
    await advanceTo(clock, T0 + 5 * MIN, sa, sb)
    const runs = await cronRuns(a, 'shared')
    expect(runs.map((r) => r.trigger.scheduledAt)).toEqual([1, 2, 3, 4, 5].map((m) => T0 + m * MIN))
    expect(await b.cronFires.list('shared')).toHaveLength(5)
    expect(sa.stats().fired + sb.stats().fired).toBe(5)
    expect(sa.stats().duplicates + sb.stats().duplicates).toBe(5)
  })

  it('the unique key rolls back the loser when both fires are in flight at once', async () => {
    const a = open()
    const b = open()
    await applyWorkflow(a, workflowYaml('race', ['{type: cron, cron: "* * * * *"}']), clock.now())
    const { s: sa, engine: ea } = scheduler(a)
    const { s: sb, engine: eb } = scheduler(b)
    // Hold both engines until both schedulers have passed their "already fired?" check.
    let open1!: () => void
    ea.gate = eb.gate = new Promise<void>((r) => (open1 = r))
    sa.start()
    sb.start()
    await Promise.all([sa.settled(), sb.settled()])
    const tick = clock.advance(MIN)
    await tick
    await new Promise((r) => setTimeout(r, 5))
    open1()
    ea.gate = eb.gate = undefined
    await Promise.all([sa.settled(), sb.settled()])
    expect(await cronRuns(a, 'race')).toHaveLength(1)
    expect((await a.executions.list({})).total).toBe(1) // the loser's execution was never committed
    expect(sa.stats().fired + sb.stats().fired).toBe(1)
    expect(sa.stats().duplicates + sb.stats().duplicates).toBe(1)
    expect(sa.stats().errors + sb.stats().errors).toBe(0)
    expect(ea.rolledBack + eb.rolledBack).toBe(1) // caught by the unique key, not by the pre-check
  })

  it('a restart inside a tick does not fire it again', async () => {
    const a = open()
    await applyWorkflow(a, workflowYaml('restart', ['{type: cron, cron: "* * * * *", missed: catchup, maxCatchup: 5}']), clock.now())
    const first = scheduler(a).s
    first.start()
    await advanceTo(clock, T0 + MIN, first)
    await first.stop()
    await clock.advance(500) // same tick, new process on the same file
    const b = open()
    const second = scheduler(b).s
    second.start()
    await advanceTo(clock, T0 + 2 * MIN, second)
    expect((await cronRuns(b, 'restart')).map((r) => r.trigger.scheduledAt)).toEqual([T0 + MIN, T0 + 2 * MIN])
    expect(second.stats().duplicates).toBe(0)
  })

  it('a crash before the tick committed fires it late after the restart, once', async () => {
    const a = open()
    await applyWorkflow(a, workflowYaml('crashy', ['{type: cron, cron: "* * * * *"}']), clock.now())
    const { s: first, engine } = scheduler(a)
    const errors: unknown[] = []
    engine.failNext = new Error('process died before commit')
    first.start()
    await advanceTo(clock, T0 + MIN, first)
    await first.stop()
    expect(await cronRuns(a, 'crashy')).toHaveLength(0)
    await clock.advance(20_000)
    const second = scheduler(open(), { onError: (e) => errors.push(e) }).s
    second.start()
    await advanceTo(clock, T0 + MIN + 30_000, second)
    expect((await cronRuns(a, 'crashy')).map((r) => r.trigger.scheduledAt)).toEqual([T0 + MIN])
    expect(errors).toEqual([])
  })
})

describe('missed ticks', () => {
  async function downtime(yamlTrigger: string, downUntil: number): Promise<{ store: SqliteStore; s: Scheduler }> {
    const a = open()
    await applyWorkflow(a, workflowYaml('hourly', [yamlTrigger]), clock.now())
    const first = scheduler(a).s
    first.start()
    await advanceTo(clock, T0 + HOUR, first) // fires 01:00
    await first.stop()
    clock.set(downUntil)
    const store = open()
    const s = scheduler(store).s
    s.start()
    await s.settled()
    return { store, s }
  }

  it('skip (the default) drops the ticks missed while down and resumes at the next one', async () => {
    const { store, s } = await downtime('{type: cron, cron: "0 * * * *"}', T0 + 5 * HOUR + 10 * MIN)
    expect((await cronRuns(store, 'hourly')).map((r) => r.trigger.scheduledAt)).toEqual([T0 + HOUR])
    await advanceTo(clock, T0 + 6 * HOUR, s)
    expect((await cronRuns(store, 'hourly')).map((r) => r.trigger.scheduledAt)).toEqual([T0 + HOUR, T0 + 6 * HOUR])
  })

  it('catchup fires at most maxCatchup missed ticks, the newest', async () => {
    const { store } = await downtime('{type: cron, cron: "0 * * * *", missed: catchup, maxCatchup: 2}', T0 + 5 * HOUR + 10 * MIN)
    expect((await cronRuns(store, 'hourly')).map((r) => r.trigger.scheduledAt)).toEqual([T0 + HOUR, T0 + 4 * HOUR, T0 + 5 * HOUR])
  })

  it('catchup fires fewer when fewer were missed, and never a tick twice', async () => {
    const { store } = await downtime('{type: cron, cron: "0 * * * *", missed: catchup, maxCatchup: 10}', T0 + 3 * HOUR + 10 * MIN)
    expect((await cronRuns(store, 'hourly')).map((r) => r.trigger.scheduledAt)).toEqual([T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR])
  })

  it('a tick only seconds late fires even under skip', async () => {
    const { store } = await downtime('{type: cron, cron: "0 * * * *"}', T0 + 2 * HOUR + 20_000)
    expect((await cronRuns(store, 'hourly')).map((r) => r.trigger.scheduledAt)).toEqual([T0 + HOUR, T0 + 2 * HOUR])
  })
})

describe('disabled workflows', () => {
  it('never fire', async () => {
    const store = open()
    await applyWorkflow(store, workflowYaml('off', ['{type: cron, cron: "* * * * *"}'], 'enabled: false\n'), clock.now())
    const { s } = scheduler(store)
    s.start()
    await advanceTo(clock, T0 + 10 * MIN, s)
    expect(await cronRuns(store, 'off')).toHaveLength(0)
  })

  it('stop firing once disabled, even when another server disabled it without telling us', async () => {
    const store = open()
    await applyWorkflow(store, workflowYaml('toggle', ['{type: cron, cron: "* * * * *"}']), clock.now())
    const { s } = scheduler(store, { replanMs: 24 * HOUR })
    s.start()
    await advanceTo(clock, T0 + MIN, s)
    await open().workflows.setEnabled('toggle', false, clock.now()) // no refresh()
    await advanceTo(clock, T0 + 5 * MIN, s)
    expect(await cronRuns(store, 'toggle')).toHaveLength(1)
    expect(s.stats().skipped).toBe(1) // caught at fire time, then re-planned without it
  })

  it('on re-enable, do not catch up the ticks that passed while disabled', async () => {
    const store = open()
    await applyWorkflow(store, workflowYaml('pause', ['{type: cron, cron: "* * * * *", missed: catchup, maxCatchup: 100}']), clock.now())
    const { s } = scheduler(store)
    s.start()
    await advanceTo(clock, T0 + MIN, s)
    await store.workflows.setEnabled('pause', false, clock.now())
    s.refresh()
    await advanceTo(clock, T0 + 10 * MIN + 30_000, s)
    await store.workflows.setEnabled('pause', true, clock.now())
    s.refresh()
    await advanceTo(clock, T0 + 11 * MIN, s)
    expect((await cronRuns(store, 'pause')).map((r) => r.trigger.scheduledAt)).toEqual([T0 + MIN, T0 + 11 * MIN])
  })

  it('deleted workflows stop firing', async () => {
    const store = open()
    await applyWorkflow(store, workflowYaml('gone', ['{type: cron, cron: "* * * * *"}']), clock.now())
    const { s } = scheduler(store)
    s.start()
    await advanceTo(clock, T0 + MIN, s)
    await store.workflows.delete('gone', clock.now())
    s.refresh()
    await advanceTo(clock, T0 + 5 * MIN, s)
    expect(await cronRuns(store, 'gone')).toHaveLength(1)
  })
})

describe('the fire ledger', () => {
  it('prunes ticks older than a day but keeps the newest of each trigger', async () => {
    const store = open()
    const fire = (workflowId: string, triggerIndex: number, scheduledAt: number) => store.commit({
      at: scheduledAt, requests: [{ transitions: [{ kind: 'cronFire', workflowId, triggerIndex, scheduledAt, executionId: `ex-${workflowId}-${triggerIndex}-${scheduledAt}` }] }],
    })
    for (const t of [1, 2, 3]) await fire('w', 0, t * HOUR)
    await fire('w', 1, HOUR)
    await fire('v', 0, 2 * HOUR)
    expect(await store.cronFires.prune(10 * HOUR)).toBe(2)
    expect((await store.cronFires.list('w')).map((f) => [f.triggerIndex, f.scheduledAt])).toEqual([[1, HOUR], [0, 3 * HOUR]])
    expect(await store.cronFires.list('v')).toHaveLength(1)
  })

  it('stays bounded while the scheduler runs, and a fire stalled past the pruning still cannot duplicate', async () => {
    const store = open()
    await applyWorkflow(store, workflowYaml('long', ['{type: cron, cron: "0 * * * *", missed: catchup, maxCatchup: 1000}']), clock.now())
    // A second server enters its first fire alone, then stalls there (say, SIGSTOP) for two days.
    const { s: stalled, engine: stalledEngine } = scheduler(open())
    let resume!: () => void
    stalledEngine.gate = new Promise<void>((r) => (resume = r))
    const entered = new Promise<void>((r) => (stalledEngine.onEnter = r))
    stalled.start()
    await stalled.settled()
    await clock.advance(HOUR - 10_000)
    await entered
    // This one fires the same 01:00 tick (it is 0 s late) and every tick after it.
    const { s } = scheduler(store, { replanMs: HOUR })
    s.start()
    await advanceTo(clock, T0 + 48 * HOUR + MIN, s)
    expect(await cronRuns(store, 'long')).toHaveLength(48)
    expect((await store.cronFires.list('long')).length).toBeLessThanOrEqual(26) // the 01:00 row is long pruned
    stalledEngine.gate = undefined
    resume()
    await stalled.settled()
    // Its 01:00 fire and its catch-up of everything since are all behind the ledger's newest tick.
    expect(await cronRuns(store, 'long')).toHaveLength(48)
    expect(stalled.stats().fired).toBe(0)
    expect(stalled.stats().errors).toBe(0)
  })
})

describe('errors', () => {
  it('reports a tick the engine refuses and keeps going', async () => {
    const store = open()
    await applyWorkflow(store, workflowYaml('err', ['{type: cron, cron: "* * * * *"}']), clock.now())
    const errors: unknown[] = []
    const { s, engine } = scheduler(store, { onError: (e, at) => errors.push([String(e), at]) })
    engine.failNext = new Error('boom')
    s.start()
    await advanceTo(clock, T0 + 2 * MIN, s)
    expect(errors).toEqual([['Error: boom', { workflowId: 'err', triggerIndex: 0, scheduledAt: T0 + MIN }]])
    expect((await cronRuns(store, 'err')).map((r) => r.trigger.scheduledAt)).toEqual([T0 + 2 * MIN])
  })
})

describe('cron scheduler on a store that cannot be written', () => {
  it('keeps a tick due while the store refuses it, reports that once, and fires it once writes work again', async () => {
    const store = open()
    await applyWorkflow(store, workflowYaml('every-min', ['{type: cron, cron: "* * * * *"}']), clock.now())
    const errors: unknown[] = []
    const { s } = scheduler(store, { replanMs: 24 * HOUR, onError: (e) => errors.push(e) })
    s.start()
    await s.settled()
    store.db.exec('PRAGMA query_only = 1') // every write fails with SQLITE_READONLY
    await advanceTo(clock, T0 + MIN + 5_000, s) // the tick and four retries a second apart
    expect(await cronRuns(store, 'every-min')).toHaveLength(0)
    expect(s.stats().errors).toBeGreaterThanOrEqual(4)
    expect(errors).toHaveLength(1) // once per burst, not once per retry
    expect(errors[0]).toMatchObject({ code: 'STORAGE_UNAVAILABLE' })
    store.db.exec('PRAGMA query_only = 0')
    await advanceTo(clock, T0 + MIN + 7_000, s)
    expect((await cronRuns(store, 'every-min')).map((r) => r.trigger.scheduledAt)).toEqual([T0 + MIN])
    expect(await store.cronFires.list('every-min')).toHaveLength(1)
  })
})
