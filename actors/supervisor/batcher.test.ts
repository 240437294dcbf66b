import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '../../runtime/clock.ts'
import { openStore, type Store } from '../../runtime/store/store.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import { CheckpointBatcher, type Committed } from './batcher.ts'

const wf: Workflow = { id: 'w', enabled: true, inputs: [], secrets: [], triggers: [], tasks: [{ id: 'a', type: 'core/log.info', needs: [], inputs: {} }] }
let dir: string
let store: Store
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ak-batch-'))
  store = openStore(join(dir, 'b.db'))
  store.transaction(() => {
    store.executions.insert({ id: 'e1', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'manual' }, now: 1 })
    store.executions.insert({ id: 'e2', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'manual' }, now: 1 })
  })
})
afterEach(() => {
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('checkpoint batcher', () => {
  it('commits what arrives in one event-loop turn in one transaction, each caller getting its own result', async () => {
    const seen: Committed[] = []
    const b = new CheckpointBatcher(store, systemClock, (c) => seen.push(c))
    const [r1, r2] = await Promise.all([
      b.submit([{ kind: 'execution', executionId: 'e1', to: 'RUNNING' }]),
      b.submit([{ kind: 'execution', executionId: 'e2', to: 'SUCCESS' }]),
    ])
    b.log([{ executionId: 'e1', ts: 1, level: 'INFO', source: 'engine', message: 'x' }])
    expect(r1).toEqual([{ ok: true, changed: true }])
    expect(r2![0]).toMatchObject({ ok: false, error: { code: 'INVALID_TRANSITION' } })
    expect(b.commits).toBe(1)
    expect(seen[0]!.applied).toHaveLength(2)
  })

  it('does not fail the neighbours of a request that makes the transaction throw', async () => {
    const b = new CheckpointBatcher(store, systemClock, () => {})
    // A trigger stands in for a request the database refuses (a constraint, a corrupt row…).
    store.db.exec("CREATE TRIGGER refuse BEFORE UPDATE ON executions WHEN NEW.id = 'e2' BEGIN SELECT RAISE(ABORT, 'refused'); END")
    const lines = [{ executionId: 'e1', ts: 1, level: 'INFO', source: 'engine', message: 'kept' }]
    const p1 = b.submit([{ kind: 'execution', executionId: 'e1', to: 'RUNNING' }])
    const p2 = b.submit([{ kind: 'execution', executionId: 'e2', to: 'RUNNING' }])
    b.log(lines)
    const [r1, r2] = await Promise.all([p1, p2])
    expect(r1).toEqual([{ ok: true, changed: true }])
    expect(r2![0]).toMatchObject({ ok: false, error: { code: 'INTERNAL' } })
    expect(store.executions.get('e1')!.state).toBe('RUNNING')
    expect(store.executions.get('e2')!.state).toBe('PENDING')
    expect(store.logs.list({ executionId: 'e1' }).items.map((l) => l.message)).toEqual(['kept'])
  })
})
