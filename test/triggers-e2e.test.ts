/** End to end on the real clock and the real engine: an every-second cron fires repeatedly, once per tick, even with two servers on one file. */

import { afterEach, describe, expect, it } from 'bun:test'
import { createEngine } from '../actors/engine.ts'
import type { Engine } from '../actors/engine-types.ts'
import { defaultConfig } from '../runtime/config/index.ts'
import { createScheduler, listFires, type Scheduler } from '../runtime/cron/index.ts'
import type { Store } from '../runtime/store/store.ts'
import { applyWorkflow, cronRuns, tempDb, workflowYaml } from './triggers-fixtures.ts'

let db: ReturnType<typeof tempDb> | undefined
const engines: Engine[] = []
const schedulers: Scheduler[] = []
const stores: Store[] = []

afterEach(async () => {
  for (const s of schedulers.splice(0)) await s.stop()
  for (const e of engines.splice(0)) await e.shutdown({ graceMs: 2000 })
  for (const s of stores.splice(0)) s.close()
  db?.cleanup()
})

/** A "server": its own store handle on the shared file, a real engine and a scheduler on the system clock. */
async function server(path: string, errors: unknown[]): Promise<{ store: Store; scheduler: Scheduler }> {
  const config = defaultConfig()
  config.storage.path = path
  config.sandbox.mode = 'permissive' // this test is about triggers, not confinement
  const store = db!.open()
  stores.push(store)
  const engine = await createEngine({ config, store })
  engines.push(engine)
  const scheduler = createScheduler({ engine, onError: (e) => errors.push(e) })
  schedulers.push(scheduler)
  return { store, scheduler }
}

/** Waits (real time, with a deadline) until `done()` holds. */
async function until(done: () => boolean, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!done() && Date.now() < end) await Bun.sleep(50)
}

describe('cron end to end (real clock)', () => {
  it('an every-second trigger fires at least 3 times in ~3.5 s, one execution per tick, across two servers on one file', async () => {
    db = tempDb()
    const errors: unknown[] = []
    const a = await server(db.path, errors)
    const b = await server(db.path, errors)
    applyWorkflow(a.store, workflowYaml('tick', ['{type: cron, cron: "* * * * * *"}']), Date.now())
    a.scheduler.start()
    b.scheduler.start()
    const started = Date.now()
    await Bun.sleep(3500)
    await a.scheduler.stop()
    await b.scheduler.stop()
    const runs = cronRuns(a.store, 'tick')
    const ticks = runs.map((r) => r.trigger.scheduledAt!)
    expect(runs.length).toBeGreaterThanOrEqual(3)
    expect(new Set(ticks).size).toBe(ticks.length) // no tick twice
    for (const t of ticks) {
      expect(t % 1000).toBe(0)
      expect(t).toBeGreaterThan(started - 1000)
    }
    expect(listFires(a.store, 'tick').map((f) => f.executionId).sort()).toEqual(runs.map((r) => r.id).sort())
    const stats = [a.scheduler.stats(), b.scheduler.stats()]
    expect(stats[0]!.fired + stats[1]!.fired).toBe(runs.length)
    expect(stats[0]!.duplicates + stats[1]!.duplicates).toBeGreaterThanOrEqual(runs.length - 1) // both saw every tick
    expect(errors).toEqual([])
    // They really run: the log task succeeds, and the CREATED audit event carries the trigger.
    await until(() => cronRuns(a.store, 'tick').every((r) => r.state === 'SUCCESS'), 15_000)
    expect(cronRuns(a.store, 'tick').map((r) => r.state)).toEqual(runs.map(() => 'SUCCESS'))
    const created = a.store.audit.forExecution(runs[0]!.id).find((e) => e.type === 'CREATED')
    expect(created?.data).toMatchObject({ trigger: { type: 'cron', scheduledAt: ticks[0], data: { triggerIndex: 0 } } })
  }, 30_000)
})
