/**
 * Per-workflow concurrency on real engines and a real SQLite file (issue 13 item 10): queue (FIFO, and across a
 * restart), cancel-new, cancel-oldest (the old execution's process is gone), and two engines on one database,
 * where the count is the store's and a slot freed on one engine admits an execution waiting on the other.
 */
import { afterEach, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createEngine, type Engine } from '../actors/engine.ts'
import { openSqliteStore, type SqliteStore } from '../runtime/store/sqlite/store.ts'
import type { Store } from '../runtime/store/store.ts'
import { effectKey, effects, processesWithEnv, startedTmpDirs, testConfig, workflow } from './helpers/engine.ts'
import { waitUntil } from './server-helpers.ts'
import { removeEffects } from './storage-helpers.ts'

const CHILD = resolve(import.meta.dir, 'fixtures/engine-child.ts')
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
  const dir = mkdtempSync(join(tmpdir(), 'ak-conc-'))
  dirs.push(dir)
  return testConfig(dir)
}
/** An engine on `config`'s file; several share it as several servers on one database would. */
async function engineOn(config: ReturnType<typeof testConfig>): Promise<Engine> {
  const store = openSqliteStore(config.storage.path)
  stores.push(store)
  const e = await createEngine({ config, store })
  engines.push(e)
  return e
}
const key = (name: string) => {
  const k = effectKey(name)
  keys.push(k)
  return k
}
const limited = (behavior: string, k: string, sleepMs: number, limit = 1) => workflow(
  `id: limited\nconcurrency: { limit: ${limit}, behavior: ${behavior} }\ntasks:\n  - { id: s, type: test/probe.effect, retry: { max: 1 }, inputs: { key: ${k}, sleepMs: ${sleepMs} } }\n`)
const manual = { type: 'manual' } as const

/** When each execution started and ended, from its audit trail (the store's clock). */
async function span(store: Store, id: string): Promise<{ started: number; ended: number }> {
  const audit = await store.audit.forExecution(id)
  const at = (type: string) => audit.filter((a) => a.type === type && a.taskId === undefined).at(-1)?.ts ?? Number.NaN
  const ends = [at('COMPLETED'), at('CANCELLED'), at('FAILED')].filter((t) => !Number.isNaN(t))
  expect(ends).toHaveLength(1)
  return { started: at('STARTED'), ended: ends[0]! }
}

describe('workflow concurrency: queue', () => {
  it('runs one at a time in creation order; the others wait as WAITING (WORKFLOW_CONCURRENCY)', async () => {
    const e = await engineOn(setup())
    const k = key('conc-queue')
    const wf = limited('queue', k, 150)
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push((await e.start({ workflow: wf, trigger: manual })).id)
    const waiting = await Promise.all(ids.slice(1).map((id) => e.store.executions.get(id)))
    expect(waiting.map((r) => [r!.state, r!.reason])).toEqual([['WAITING', 'WORKFLOW_CONCURRENCY'], ['WAITING', 'WORKFLOW_CONCURRENCY']])
    for (const id of ids) expect((await e.waitFor(id)).state).toBe('SUCCESS')
    const spans = await Promise.all(ids.map((id) => span(e.store, id)))
    // Never two at once, and first come, first served.
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.started).toBeGreaterThanOrEqual(spans[i - 1]!.ended)
    expect(effects(k)).toHaveLength(3)
  })

  it('the queue survives a restart: the waiting execution starts after the interrupted one, on the next engine', async () => {
    const config = setup()
    const k = key('conc-restart')
    const wf = limited('queue', k, 1500)
    const first = await engineOn(config)
    const a = await first.start({ workflow: wf, trigger: manual })
    const b = await first.start({ workflow: wf, trigger: manual })
    await waitUntil('the first to run its task', () => first.stats().runningTasks === 1)
    await first.shutdown({ graceMs: 0 })
    engines.splice(engines.indexOf(first), 1)
    expect((await stores[0]!.executions.get(b.id))).toMatchObject({ state: 'WAITING', reason: 'WORKFLOW_CONCURRENCY' })
    const second = await engineOn(config)
    expect((await second.waitFor(a.id)).state).toBe('SUCCESS')
    expect((await second.waitFor(b.id)).state).toBe('SUCCESS')
    const [sa, sb] = [await span(second.store, a.id), await span(second.store, b.id)]
    expect(sb.started).toBeGreaterThanOrEqual(sa.ended)
  }, 30_000)
})

describe('workflow concurrency: queue across kill -9, and a cancel while waiting', () => {
  it('kill -9 of the engine holding a queue: the restart runs them all, one at a time, in creation order, nothing twice', async () => {
    const config = setup()
    const dir = dirs.at(-1)!
    const k = key('conc-kill')
    const file = join(dir, 'limited.yaml')
    await Bun.write(file, `id: limited\nconcurrency: { limit: 1 }\ntasks:\n  - { id: s, type: test/probe.effect, retry: { max: 1 }, inputs: { key: ${k}, sleepMs: 1000 } }\n`)
    const child = Bun.spawn(['bun', CHILD, dir, 'start', file], {
      stdout: 'pipe', stderr: 'inherit', stdin: 'ignore', env: { ...process.env, AUTOKESTRA_TEST_STARTS: '3' },
    })
    await waitUntil('the first to run its task', () => startedTmpDirs(k).length === 1)
    child.kill('SIGKILL')
    await child.exited
    const e = await engineOn(config)
    const ids = (await e.store.executions.list({ workflowId: 'limited' })).items.map((x) => x.id).reverse()
    expect(ids).toHaveLength(3)
    for (const id of ids) expect((await e.waitFor(id)).state).toBe('SUCCESS')
    const spans = await Promise.all(ids.map((id) => span(e.store, id)))
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.started).toBeGreaterThanOrEqual(spans[i - 1]!.ended)
    expect(effects(k)).toHaveLength(3) // one side effect per execution: the interrupted attempt never reached its own
  }, 60_000)

  it('a waiting execution cancelled by its user leaves the queue; the one behind it still runs', async () => {
    const e = await engineOn(setup())
    const k = key('conc-cancel-waiting')
    const wf = limited('queue', k, 200)
    const [a, b, c] = [await e.start({ workflow: wf, trigger: manual }), await e.start({ workflow: wf, trigger: manual }), await e.start({ workflow: wf, trigger: manual })]
    expect((await e.cancel(b.id)).state).toBe('CANCELLED')
    expect((await e.store.executions.taskRuns(b.id)).map((r) => r.state)).toEqual(['CANCELLED'])
    expect((await e.waitFor(a.id)).state).toBe('SUCCESS')
    expect((await e.waitFor(c.id)).state).toBe('SUCCESS')
    expect(effects(k)).toHaveLength(2)
  })
})

describe('workflow concurrency: cancel-new and cancel-oldest', () => {
  it('cancel-new: the new execution is created CANCELLED with CONCURRENCY_LIMIT; the running one is untouched', async () => {
    const e = await engineOn(setup())
    const k = key('conc-new')
    const wf = limited('cancel-new', k, 300)
    const a = await e.start({ workflow: wf, trigger: manual })
    const b = await e.start({ workflow: wf, trigger: manual })
    expect(b).toMatchObject({ state: 'CANCELLED', error: { code: 'CONCURRENCY_LIMIT' } })
    expect((await e.waitFor(b.id)).state).toBe('CANCELLED')
    expect((await e.waitFor(a.id)).state).toBe('SUCCESS')
    expect(effects(k)).toHaveLength(1)
  })

  it('cancel-oldest: the running one is cancelled, its plugin process gone, and the new one runs', async () => {
    const e = await engineOn(setup())
    const k = key('conc-oldest')
    const a = await e.start({ workflow: limited('cancel-oldest', k, 20_000), trigger: manual })
    await waitUntil('the old one to run its task', () => startedTmpDirs(k).length === 1)
    const b = await e.start({ workflow: limited('cancel-oldest', k, 10), trigger: manual })
    const ended = await e.waitFor(a.id)
    expect(ended).toMatchObject({ state: 'CANCELLED', error: { code: 'CANCELLED', message: expect.stringContaining(b.id) } })
    expect((await e.waitFor(b.id)).state).toBe('SUCCESS')
    expect(processesWithEnv(`TMPDIR=${startedTmpDirs(k)[0]}`)).toEqual([]) // the old attempt's process is gone
    expect(effects(k).map((l) => l.taskId)).toEqual(['s']) // only the new one reached its side effect
    const [sa, sb] = [await span(e.store, a.id), await span(e.store, b.id)]
    expect(sb.started).toBeGreaterThanOrEqual(sa.ended)
  })
})

describe('workflow concurrency: two engines on one database', () => {
  it('queue: a slot freed on one engine admits the execution waiting on the other', async () => {
    const config = setup()
    const k = key('conc-two')
    const [one, two] = [await engineOn(config), await engineOn(config)]
    const a = await one.start({ workflow: limited('queue', k, 400), trigger: manual })
    const b = await two.start({ workflow: limited('queue', k, 10), trigger: manual })
    expect(b).toMatchObject({ state: 'WAITING', reason: 'WORKFLOW_CONCURRENCY' }) // counted from the store, not engine two's memory
    expect((await one.waitFor(a.id)).state).toBe('SUCCESS')
    expect((await two.waitFor(b.id)).state).toBe('SUCCESS')
    expect((await span(two.store, b.id)).started).toBeGreaterThanOrEqual((await span(one.store, a.id)).ended)
  })

  it('cancel-oldest: the engine holding the old execution cancels it when another engine\'s new one asks', async () => {
    const config = setup()
    const k = key('conc-two-oldest')
    const [one, two] = [await engineOn(config), await engineOn(config)]
    const a = await one.start({ workflow: limited('cancel-oldest', k, 20_000), trigger: manual })
    await waitUntil('the old one to run its task', () => startedTmpDirs(k).length === 1)
    const b = await two.start({ workflow: limited('cancel-oldest', k, 10), trigger: manual })
    expect((await one.waitFor(a.id)).state).toBe('CANCELLED')
    expect((await two.waitFor(b.id)).state).toBe('SUCCESS')
    expect(processesWithEnv(`TMPDIR=${startedTmpDirs(k)[0]}`)).toEqual([])
  })

  it('cancel-oldest: a waiting execution cancelled by another engine\'s newer one ends for the engine that holds it too', async () => {
    const config = setup()
    const k = key('conc-two-waiting')
    const [one, two] = [await engineOn(config), await engineOn(config)]
    const a = await one.start({ workflow: limited('cancel-oldest', k, 20_000), trigger: manual })
    await waitUntil('the old one to run its task', () => startedTmpDirs(k).length === 1)
    const b = await one.start({ workflow: limited('cancel-oldest', k, 10), trigger: manual })
    const waitB = one.waitFor(b.id) // engine one's caller waits for b (as `workflow run` would)
    const c = await two.start({ workflow: limited('cancel-oldest', k, 10), trigger: manual })
    expect(await waitB).toMatchObject({ state: 'CANCELLED', error: { message: expect.stringContaining(c.id) } })
    expect((await one.waitFor(a.id)).state).toBe('CANCELLED')
    expect((await two.waitFor(c.id)).state).toBe('SUCCESS')
  })
})
