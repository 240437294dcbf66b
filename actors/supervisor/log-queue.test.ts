/**
 * Fair log batching (issue 10 finding 6), on the real batcher and a real SQLite store: one execution's flood
 * of log lines does not hold up another execution's checkpoint, an execution's transition still follows its
 * own earlier lines, and the queue's memory is bounded (with one LOG_TRUNCATED line and audit event).
 */

import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '../../runtime/clock.ts'
import { openSqliteStore, type SqliteStore } from '../../runtime/store/sqlite/store.ts'
import type { NewLogLine } from '../../runtime/store/types.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import { createExecutions } from '../../test/helpers/store.ts'
import { CheckpointBatcher } from './batcher.ts'

const wf: Workflow = { id: 'w', enabled: true, inputs: [], secrets: [], triggers: [], tasks: [{ id: 'a', kind: 'plugin', type: 'core/log.info', needs: [], inputs: {} }] }
let dir: string
let store: SqliteStore
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ak-logq-'))
  store = openSqliteStore(join(dir, 'q.db'))
  await createExecutions(store, ['flood', 'small'].map((id) => ({ id, workflow: wf })))
})
afterEach(async () => {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

const lines = (executionId: string, n: number, from = 0): NewLogLine[] =>
  Array.from({ length: n }, (_, i) => ({ executionId, taskId: 'a', attempt: 1, ts: 1, level: 'INFO', source: 'plugin:x', message: String(from + i) }))
const rows = async (executionId: string) => (await store.logs.list({ executionId, limit: 1_000_000 })).items

describe('fair log batching (finding 6)', () => {
  it("commits another execution's checkpoint in the first commit, with a bounded share of the flood", async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, { perCommit: 500, maxQueued: 200_000 })
    b.log(lines('flood', 100_000))
    let floodRowsWhenDone = -1
    let commitsWhenDone = -1
    await b.submit([{ kind: 'execution', executionId: 'small', to: 'RUNNING' }]).then(async () => {
      commitsWhenDone = b.commits
      floodRowsWhenDone = (await rows('flood')).length
    })
    expect(commitsWhenDone).toBe(1)
    expect(floodRowsWhenDone).toBeLessThanOrEqual(500)
    await b.drain()
    // Nothing of the flood is lost, and its order is kept.
    const all = (await rows('flood')).map((r) => Number(r.message)).reverse()
    expect(all.length).toBe(100_000)
    expect(all.every((v, i) => v === i)).toBe(true)
    expect(b.commits).toBeGreaterThanOrEqual(100_000 / 500)
  })

  it("writes an execution's earlier lines before its own transition, without waiting for later ones", async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, { perCommit: 1000, maxQueued: 200_000 })
    b.log(lines('flood', 5_000))
    let seen = -1
    const done = b.submit([{ kind: 'execution', executionId: 'flood', to: 'RUNNING' }]).then(async () => { seen = (await rows('flood')).length })
    b.log(lines('flood', 50_000, 5_000)) // arrives after the transition: it must not hold it up
    await done
    expect(seen).toBeGreaterThanOrEqual(5_000)
    expect(seen).toBeLessThan(55_000)
    expect((await store.executions.get('flood'))!.state).toBe('RUNNING')
    await b.drain()
  })

  it('bounds the lines waiting per execution; the rest is dropped with one LOG_TRUNCATED line and audit event', async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, { perCommit: 1000, maxQueued: 10_000 })
    b.log(lines('flood', 25_000))
    b.log(lines('small', 10))
    await b.drain()
    const flood = await rows('flood')
    expect(flood.filter((r) => r.source === 'plugin:x')).toHaveLength(10_000)
    const notice = flood.filter((r) => r.message.startsWith('LOG_TRUNCATED'))
    expect(notice).toHaveLength(1)
    expect(notice[0]).toMatchObject({ level: 'WARN', source: 'engine', message: expect.stringContaining('15000 log lines') })
    expect((await store.audit.forExecution('flood')).filter((a) => a.type === 'LOG_TRUNCATED').map((a) => a.data))
      .toEqual([{ scope: 'queue', unit: 'lines', max: 10_000, dropped: 15_000 }])
    expect(await rows('small')).toHaveLength(10)
  })
})
