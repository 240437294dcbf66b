/**
 * End to end on the real clock: two real servers (HTTP, engine, scheduler) on one database file; an
 * every-second cron applied over HTTP fires at least 3 times in ~3.5 s, one execution per tick.
 */

import { afterEach, describe, expect, it } from 'bun:test'
import type { RunningServer } from '../api/server.ts'
import { openSqliteStore } from '../runtime/store/sqlite/store.ts'
import { tempDb, workflowYaml } from './triggers-fixtures.ts'
import { applyOver, bootServer, executionsOver } from './triggers-server-fixtures.ts'

let db: ReturnType<typeof tempDb> | undefined
const servers: RunningServer[] = []

afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop()
  db?.cleanup()
})

describe('cron end to end (real clock)', () => {
  it('an every-second trigger fires at least 3 times in ~3.5 s, once per tick, with two servers on one file', async () => {
    db = tempDb()
    const a = await bootServer(db.path)
    servers.push(a)
    expect((await applyOver(a, workflowYaml('tick', ['{type: cron, cron: "* * * * * *"}']))).status).toBe(201)
    const b = await bootServer(db.path) // plans the workflow at start; both now fire every tick
    servers.push(b)
    const started = Date.now()
    await Bun.sleep(3500)
    const runs = (await executionsOver(a, 'tick')).filter((r) => r.trigger.type === 'cron')
    const ticks = runs.map((r) => r.trigger.scheduledAt!)
    expect(runs.length).toBeGreaterThanOrEqual(3)
    expect(new Set(ticks).size).toBe(ticks.length) // no tick twice
    for (const t of ticks) {
      expect(t % 1000).toBe(0)
      expect(t).toBeGreaterThan(started - 2000)
    }
    // The ledger and the CREATED audit event agree, read through a third handle on the file.
    const reader = openSqliteStore(db.path)
    try {
      const fired = (await reader.cronFires.list('tick')).filter((f) => f.scheduledAt <= Math.max(...ticks))
      expect(fired.map((f) => f.executionId).sort()).toEqual(runs.map((r) => r.id).sort())
      const created = (await reader.audit.forExecution(runs[0]!.id)).find((e) => e.type === 'CREATED')
      expect(created?.data).toMatchObject({ trigger: { type: 'cron', scheduledAt: runs[0]!.trigger.scheduledAt, data: { triggerIndex: 0 } } })
    } finally {
      await reader.close()
    }
  }, 30_000)
})
