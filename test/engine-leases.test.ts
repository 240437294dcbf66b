/**
 * Execution ownership as leases, on real engines and a real SQLite file: an engine takes over an execution only
 * once its owner's lease is gone or expired (a live process does not keep an expired lease), a live lease is left
 * alone even past the TTL while its heartbeat renews it, and a graceful stop ends the lease so the next engine
 * resumes at once. The pid in an owner id never decides (review 2, liveness across pid namespaces): a dead engine
 * whose pid now names a live process (pid reuse) is gone at once, because its liveness proof is free; an engine
 * whose pid names nothing here (another pid namespace) but that left no proof keeps its lease until it expires.
 */

import { afterEach, describe, expect, it } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEngine, type Engine } from '../actors/engine.ts'
import { openSqliteStore, type SqliteStore } from '../runtime/store/sqlite/store.ts'
import { effectKey, effects, testConfig, workflow } from './helpers/engine.ts'
import { createExecutions, sqliteOf } from './helpers/store.ts'
import { waitUntil } from './server-helpers.ts'
import { removeEffects } from './storage-helpers.ts'

const dirs: string[] = []
const engines: Engine[] = []
const stores: SqliteStore[] = []
const keys: string[] = []
afterEach(async () => {
  for (const e of engines.splice(0)) await e.shutdown({ graceMs: 0 })
  for (const s of stores.splice(0)) await s.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  removeEffects(keys.splice(0))
})

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'ak-leases-'))
  dirs.push(dir)
  const config = testConfig(dir)
  const store = openSqliteStore(config.storage.path)
  stores.push(store)
  return { config, store }
}
const start = async (config: ReturnType<typeof testConfig>, lease = { ttlMs: 400, renewMs: 100 }) => {
  const e = await createEngine({ config, store: stores.at(-1)!, lease })
  engines.push(e)
  return e
}

/** An owner id whose process is alive (pid 1 with its real start time): only its lease can say it is gone. */
function liveOwner(): string {
  const stat = readFileSync('/proc/1/stat', 'utf8')
  return `${hostname()}/1/${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}/1`
}

const hello = workflow('id: leased\ntasks:\n  - { id: a, type: core/log.info, inputs: { message: taken over } }\n')

describe('execution leases', () => {
  it('leaves an execution whose owner holds a live lease alone, and takes it over once that lease has expired', async () => {
    const { config, store } = setup()
    const owner = liveOwner()
    await store.engines.register({ id: owner, host: hostname(), pid: 1, startedAt: 1, leaseUntil: Date.now() + 3_600_000 }, 1)
    await createExecutions(store, [{ id: 'ex_live', workflow: hello }], 1, owner)
    const first = await start(config)
    expect(first.stats().queuedExecutions + first.stats().runningExecutions).toBe(0) // its owner's lease is live
    expect((await store.executions.listActive())[0]).toMatchObject({ id: 'ex_live', owner })
    await first.shutdown({ graceMs: 0 })
    // The owner's process is still alive, but it stopped renewing: the lease, not the pid, decides.
    await store.engines.renew(owner, 2, Date.now() - 1)
    const second = await start(config)
    expect((await second.waitFor('ex_live')).state).toBe('SUCCESS')
    expect((await store.audit.forExecution('ex_live')).map((a) => a.type)).toContain('COMPLETED')
  })

  it('keeps renewing its lease: a second engine started after several TTLs does not take over a live one', async () => {
    const { config, store } = setup()
    const key = effectKey('lease-live')
    keys.push(key)
    const first = await start(config)
    const ex = await first.start({
      workflow: workflow(`id: long\ntasks:\n  - { id: s, type: test/probe.effect, inputs: { key: ${key}, sleepMs: 4000 } }\n`), trigger: { type: 'manual' },
    })
    await waitUntil('the task to run', () => effects(key).length > 0 || first.stats().runningTasks === 1)
    const renewed = (await store.engines.list()).find((e) => e.id.includes(`/${process.pid}/`))!
    await waitUntil('a few heartbeats past the TTL', async () => {
      const now = (await store.engines.list()).find((e) => e.id === renewed.id)
      return now !== undefined && now.heartbeatAt - renewed.startedAt > 3 * 400
    }, 10_000)
    expect((await store.executions.get(ex.id))!.state).toBe('RUNNING') // still the first engine's, and live
    const second = await start(config)
    expect(second.stats().queuedExecutions + second.stats().runningExecutions).toBe(0)
    expect((await first.waitFor(ex.id)).state).toBe('SUCCESS')
    expect(effects(key).map((l) => l.taskId)).toEqual(['s']) // ran once, by its own engine
  })

  it('ends its lease when it stops, so the next engine resumes an interrupted execution at once', async () => {
    const { config, store } = setup()
    const key = effectKey('lease-stop')
    keys.push(key)
    // A lease far longer than the test: only the release lets the next engine in.
    const first = await start(config, { ttlMs: 3_600_000, renewMs: 60_000 })
    const ex = await first.start({
      workflow: workflow(`id: stopped\ntasks:\n  - { id: s, type: test/probe.effect, retry: { max: 1 }, inputs: { key: ${key}, sleepMs: 1500 } }\n`), trigger: { type: 'manual' },
    })
    await waitUntil('the task to run', () => first.stats().runningTasks === 1)
    await first.shutdown({ graceMs: 0 })
    expect((await store.engines.list()).some((e) => e.id.includes(`/${process.pid}/`))).toBe(false)
    const second = await start(config, { ttlMs: 3_600_000, renewMs: 60_000 })
    expect((await second.waitFor(ex.id)).state).toBe('SUCCESS')
    expect((await store.executions.listActive())).toEqual([])
  })

  it('pid reuse: a dead engine whose pid now names a live process (pid 1, its real start time) is gone at once', async () => {
    const { config, store } = setup()
    // Its own handle, closed as its process's death closes it: the proof is dropped, the lease row (an hour) stays.
    const owner = liveOwner()
    const dying = openSqliteStore(config.storage.path)
    await dying.engines.register({ id: owner, host: hostname(), pid: 1, startedAt: 1, leaseUntil: Date.now() + 3_600_000 }, 1)
    await createExecutions(dying, [{ id: 'ex_reused', workflow: hello }], 1, owner)
    await dying.close()
    const next = await start(config)
    expect((await next.waitFor('ex_reused')).state).toBe('SUCCESS')
    expect((await store.engines.list()).map((e) => e.id)).not.toContain(owner)
  })

  it('a pid this process cannot see (as in another pid namespace) is no proof of death: without a proof the lease decides', async () => {
    const { config, store } = setup()
    // A row with no liveness proof (as an engine of an older version leaves): its pid names no process here.
    const owner = `${hostname()}/999999999/0/1`
    sqliteOf(store).db.query('INSERT INTO engines (id, host, pid, started_at, heartbeat_at, lease_until) VALUES (?, ?, ?, ?, ?, ?)')
      .run(owner, hostname(), 999999999, 1, 1, Date.now() + 3_600_000)
    await createExecutions(store, [{ id: 'ex_unseen', workflow: hello }], 1, owner)
    const first = await start(config)
    expect(first.stats().queuedExecutions + first.stats().runningExecutions).toBe(0)
    expect({ owner: (await store.executions.listActive())[0]?.owner, lease: (await store.engines.list()).some((e) => e.id === owner) })
      .toEqual({ owner, lease: true })
    await first.shutdown({ graceMs: 0 })
    await store.engines.renew(owner, 2, Date.now() - 1) // its lease runs out: now it is taken over
    const second = await start(config)
    expect((await second.waitFor('ex_unseen')).state).toBe('SUCCESS')
  })
})
