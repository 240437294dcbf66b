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
import { openStore, type Store } from '../../runtime/store/sqlite/legacy.ts'
import type { NewLogLine } from '../../runtime/store/types.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import { CheckpointBatcher } from './batcher.ts'

const wf: Workflow = { id: 'w', enabled: true, inputs: [], secrets: [], triggers: [], tasks: [{ id: 'a', type: 'core/log.info', needs: [], inputs: {} }] }
let dir: string
let store: Store
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ak-logq-'))
  store = openStore(join(dir, 'q.db'))
  store.transaction(() => {
    for (const id of ['flood', 'small']) store.executions.insert({ id, workflow: wf, revision: 1, inputs: {}, trigger: { type: 'manual' }, now: 1 })
  })
})
afterEach(() => {
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

const lines = (executionId: string, n: number, from = 0): NewLogLine[] =>
  Array.from({ length: n }, (_, i) => ({ executionId, taskId: 'a', attempt: 1, ts: 1, level: 'INFO', source: 'plugin:x', message: String(from + i) }))
const rows = (executionId: string) => store.logs.list({ executionId, limit: 1_000_000 }).items

describe('fair log batching (finding 6)', () => {
  it("commits another execution's checkpoint in the first commit, with a bounded share of the flood", async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, { perCommit: 500, maxQueued: 200_000 })
    b.log(lines('flood', 100_000))
    let floodRowsWhenDone = -1
    let commitsWhenDone = -1
    await b.submit([{ kind: 'execution', executionId: 'small', to: 'RUNNING' }]).then(() => {
      floodRowsWhenDone = rows('flood').length
      commitsWhenDone = b.commits
    })
    expect(commitsWhenDone).toBe(1)
    expect(floodRowsWhenDone).toBeLessThanOrEqual(500)
    b.drain()
    // Nothing of the flood is lost, and its order is kept.
    const all = rows('flood').map((r) => Number(r.message)).reverse()
    expect(all.length).toBe(100_000)
    expect(all.every((v, i) => v === i)).toBe(true)
    expect(b.commits).toBeGreaterThanOrEqual(100_000 / 500)
  })

  it("writes an execution's earlier lines before its own transition, without waiting for later ones", async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, { perCommit: 1000, maxQueued: 200_000 })
    b.log(lines('flood', 5_000))
    let seen = -1
    const done = b.submit([{ kind: 'execution', executionId: 'flood', to: 'RUNNING' }]).then(() => { seen = rows('flood').length })
    b.log(lines('flood', 50_000, 5_000)) // arrives after the transition: it must not hold it up
    await done
    expect(seen).toBeGreaterThanOrEqual(5_000)
    expect(seen).toBeLessThan(55_000)
    expect(store.executions.get('flood')!.state).toBe('RUNNING')
    b.drain()
  })

  it('bounds the lines waiting per execution; the rest is dropped with one LOG_TRUNCATED line and audit event', () => {
    const b = new CheckpointBatcher(store, systemClock, () => {}, { perCommit: 1000, maxQueued: 10_000 })
    b.log(lines('flood', 25_000))
    b.log(lines('small', 10))
    b.drain()
    const flood = rows('flood')
    expect(flood.filter((r) => r.source === 'plugin:x')).toHaveLength(10_000)
    const notice = flood.filter((r) => r.message.startsWith('LOG_TRUNCATED'))
    expect(notice).toHaveLength(1)
    expect(notice[0]).toMatchObject({ level: 'WARN', source: 'engine', message: expect.stringContaining('15000 log lines') })
    expect(store.audit.forExecution('flood').filter((a) => a.type === 'LOG_TRUNCATED').map((a) => a.data))
      .toEqual([{ scope: 'queue', unit: 'lines', max: 10_000, dropped: 15_000 }])
    expect(rows('small')).toHaveLength(10)
  })
})
