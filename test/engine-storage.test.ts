/**
 * The real engine on a store that stops accepting writes (SQLite's `query_only`, which refuses every write
 * with SQLITE_READONLY as a read-only remount does): no effect before its checkpoint, the execution waits
 * and finishes once writes work again; an engine that starts on such a store starts anyway and recovers
 * the interrupted executions later. No root needed (the tmpfs test covers a real full disk).
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEngine } from '../actors/engine.ts'
import { openSqliteStore } from '../runtime/store/sqlite/store.ts'
import { effectKey, effects, startedTmpDirs, startTestEngine, testConfig, workflow } from './helpers/engine.ts'
import { waitUntil } from './server-helpers.ts'
import { removeEffects } from './storage-helpers.ts'
import { createExecutions, sqliteOf } from './helpers/store.ts'

const keys: string[] = []
afterAll(() => removeEffects(keys))

/** How many attempts started, from the probe's `.started` file (one line per attempt). */
const startedTasks = (key: string) => startedTmpDirs(key).length
const refuseWrites = (db: { exec(sql: string): void }, on: boolean) => db.exec(`PRAGMA query_only = ${on ? 1 : 0}`)

describe('the engine on a store that refuses writes', () => {
  it('starts no task whose RUNNING is not committed, keeps the execution waiting, and finishes it once writes work again', async () => {
    const t = await startTestEngine()
    try {
      const key = effectKey('refused')
      keys.push(key)
      const chain = (i: number) => `  - { id: t${i}, type: test/probe.effect${i ? `, needs: [t${i - 1}]` : ''}, inputs: { key: ${key}, sleepMs: 150 } }`
      const wf = workflow(`id: refused\ntasks:\n${[0, 1, 2, 3].map(chain).join('\n')}\n`)
      const ex = await t.engine.start({ workflow: wf, trigger: { type: 'manual' } })
      const store = sqliteOf(t.engine.store)
      await waitUntil('t0 to succeed', async () => (await store.executions.taskRun(ex.id, 't0'))?.state === 'SUCCESS')
      refuseWrites(store.db, true)
      await waitUntil('the engine to wait for the store', () => t.engine.stats().waitingForStore)
      const startedWhileRefused = startedTasks(key)
      // Every attempt that started has its RUNNING in the store: checkpoint before effect, even now.
      const committed = (await store.executions.taskRuns(ex.id)).reduce((n, r) => n + r.attempt, 0)
      expect(startedWhileRefused).toBeLessThanOrEqual(committed)
      expect((await store.executions.get(ex.id))!.state).toBe('RUNNING')
      await waitUntil('the refusals to go on a while', () => t.engine.stats().waitingForStore && store.health.status().writable === false && (store.health.status() as { failedCommits: number }).failedCommits >= 4)
      expect(startedTasks(key)).toBe(startedWhileRefused) // nothing new started while nothing could be committed
      refuseWrites(store.db, false)
      const done = await t.engine.waitFor(ex.id)
      expect(done.state).toBe('SUCCESS')
      expect(effects(key).map((l) => l.taskId)).toEqual(['t0', 't1', 't2', 't3']) // each once, in order
      expect(t.engine.stats().waitingForStore).toBe(false)
      expect(store.health.status()).toEqual({ writable: true })
    } finally {
      await t.close()
    }
  }, 60_000)

  it('starts on a store that refuses writes, and recovers an interrupted execution once writes work again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ak-refused-start-'))
    const config = testConfig(dir)
    const store = openSqliteStore(config.storage.path)
    try {
      const wf = workflow('id: orphan\ntasks:\n  - { id: a, type: core/log.info, inputs: { message: resumed } }\n')
      // An execution an engine that is gone left RUNNING; its lease row says it is still live. It registered through
      // a handle of its own, closed here as its process's death closes it: its liveness proof is dropped, the row stays.
      const gone = `${hostname()}/999999999/0/1`
      const dead = openSqliteStore(config.storage.path)
      await dead.engines.register({ id: gone, host: hostname(), pid: 999999999, startedAt: 1, leaseUntil: Date.now() + 3_600_000 }, 1)
      await dead.close()
      await createExecutions(store, [{ id: 'ex_orphan', workflow: wf, revision: 0 }], 1, gone)
      await store.commit({ at: 2, owner: gone, requests: [{ transitions: [{ kind: 'execution', executionId: 'ex_orphan', to: 'RUNNING' }] }] })
      refuseWrites(store.db, true)
      const engine = await createEngine({ config, store })
      try {
        expect((await store.executions.get('ex_orphan'))!.state).toBe('RUNNING')
        expect(store.health.status()).toMatchObject({ writable: false, code: 'SQLITE_READONLY' })
        refuseWrites(store.db, false)
        await waitUntil('the execution to be claimed', async () => (await store.executions.listActive()).every((e) => e.id !== 'ex_orphan' || e.owner?.includes(`/${process.pid}/`)))
        expect((await engine.waitFor('ex_orphan')).state).toBe('SUCCESS')
      } finally {
        await engine.shutdown({ graceMs: 0 })
      }
    } finally {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
